//! From a loaded template to what the runner serves: its routes, and for each
//! function a pool that starts its binary with the environment Lambda would give
//! it.

use std::path::Path;
use std::sync::Arc;

use anyhow::bail;

use crate::binary::BuildKind;
use crate::gateway::routes::Routes;
use crate::lambda::Supervisor;
use crate::lambda::instance::Runtime;
use crate::lambda::pool::{Limits, Pool};
use crate::launch::{self, Sources};
use crate::secrets::{self, Secrets};
use crate::template::{FunctionSpec, Template};

/// How the functions of a template are run.
pub struct Options<'a> {
    /// Where cargo's outputs are (`--target-dir`), and which build to run.
    pub target_dir: Option<&'a Path>,
    pub binaries: BuildKind,
    /// `--build-dir`: a `sam build` output, whose `<LogicalId>/bootstrap` wins.
    pub build_dir: Option<&'a Path>,
    pub region: &'a str,
    /// `--env-file`: every function gets these variables.
    pub shared_env: &'a [(String, String)],
    /// `--secrets-file`: what the template's dynamic references resolve to.
    pub secrets: &'a Secrets,
    /// The pool limits, given a function's reserved concurrency.
    pub limits: &'a dyn Fn(Option<u32>) -> Limits,
}

/// The routes of a template and a pool per function (in the template's order),
/// or every reason the template cannot be served.
pub fn serve(
    template: &Template,
    options: &Options<'_>,
    supervisor: &Arc<Supervisor>,
) -> anyhow::Result<(Routes, Vec<Arc<Pool>>)> {
    let mut routes = Routes::default();
    let mut pools = Vec::new();
    let mut missing = Vec::new();
    for (index, spec) in template.functions.iter().enumerate() {
        for event in &spec.events {
            routes.add(index, event).map_err(|e| {
                anyhow::anyhow!("resource {}, event {}: {e}", spec.logical_id, event.name)
            })?;
        }
        let sources = Sources {
            target_dir: options.target_dir,
            binaries: options.binaries,
            build_dir: options.build_dir,
        };
        let launch = match launch::launch(spec, sources) {
            Ok(launch) => launch,
            Err(why) => {
                missing.push(why);
                continue;
            }
        };
        let environment = environment(spec, &launch, options)?;
        tracing::info!(function = %spec.logical_id, kind = launch.kind, program = %launch.program.display(), "function ready to start on demand");
        let runtime = Runtime {
            name: spec.logical_id.clone(),
            program: launch.program,
            args: launch.args,
            dir: launch.task_root,
            environment,
            timeout: spec.timeout,
            arn: spec.arn.as_str().into(),
        };
        pools.push(Pool::new(
            runtime,
            (options.limits)(spec.reserved_concurrency),
            Arc::clone(supervisor),
        ));
    }
    if !missing.is_empty() {
        bail!("{}", missing.join("\n"));
    }
    Ok((routes, pools))
}

/// What Lambda sets, then the function's own variables (its secrets resolved),
/// then the `--env-file`'s. A dynamic reference left unresolved refuses the start.
fn environment(
    spec: &FunctionSpec,
    launch: &launch::Launch,
    options: &Options<'_>,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut environment = vec![
        (
            "AWS_LAMBDA_FUNCTION_NAME".to_owned(),
            spec.function_name.clone(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".to_owned(),
            spec.memory_mb.to_string(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_VERSION".to_owned(),
            "$LATEST".to_owned(),
        ),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME".to_owned(),
            format!("/aws/lambda/{}", spec.function_name),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME".to_owned(), "local".to_owned()),
        (
            "AWS_LAMBDA_INITIALIZATION_TYPE".to_owned(),
            "on-demand".to_owned(),
        ),
        ("AWS_REGION".to_owned(), options.region.to_owned()),
        ("AWS_DEFAULT_REGION".to_owned(), options.region.to_owned()),
        ("TZ".to_owned(), ":UTC".to_owned()),
    ];
    environment.extend(launch.environment.iter().cloned());
    for (name, value) in &spec.environment {
        let value = options.secrets.resolve(value).map_err(|why| {
            anyhow::anyhow!("resource {}, variable {name}: {why}", spec.logical_id)
        })?;
        environment.push((name.clone(), value));
    }
    environment.extend(options.shared_env.iter().cloned());
    if let Some((name, _)) = environment
        .iter()
        .find(|(_, value)| secrets::is_unresolved(value))
    {
        bail!(
            "resource {}, variable {name}: a dynamic reference ({{{{resolve:…}}}}) is left \
             unresolved; a function never gets one as its value",
            spec.logical_id
        );
    }
    Ok(environment)
}
