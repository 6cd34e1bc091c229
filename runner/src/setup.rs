//! From a loaded template to what the runner serves: its routes, and for each
//! function a pool that starts its binary with the environment Lambda would give
//! it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};

use crate::binary::BuildKind;
use crate::gateway::Served;
use crate::gateway::routes::Routes;
use crate::lambda::Supervisor;
use crate::lambda::instance::Runtime;
use crate::lambda::pool::{Limits, Pool};
use crate::launch::{self, Sources};
use crate::secrets::{self, Secrets};
use crate::template::{self, FunctionSpec, Settings, Template};

/// Everything needed to serve a template, kept so that `--watch` can load it
/// again after an edit.
pub struct Config {
    /// The SAM template, and what its parameters and pseudo parameters resolve to.
    pub template: PathBuf,
    pub settings: Settings,
    /// Where cargo's outputs are (`--target-dir`), and which build to run.
    pub target_dir: Option<PathBuf>,
    pub binaries: BuildKind,
    /// `--build-dir`: a `sam build` output, whose `<LogicalId>/bootstrap` wins.
    pub build_dir: Option<PathBuf>,
    /// `--env-file`: every function gets these variables.
    pub shared_env: Vec<(String, String)>,
    /// `--secrets-file`: what the template's dynamic references resolve to.
    pub secrets: Secrets,
    /// The pool limits of a function without reserved concurrency.
    pub limits: Limits,
    /// `--min-instances`: instances kept ready, by logical id.
    pub min_instances: BTreeMap<String, u32>,
}

impl Config {
    /// Where the runner looks for each function's code.
    pub fn sources(&self) -> Sources<'_> {
        Sources {
            target_dir: self.target_dir.as_deref(),
            binaries: self.binaries,
            build_dir: self.build_dir.as_deref(),
        }
    }

    /// Reads the template.
    pub fn read_template(&self) -> anyhow::Result<Template> {
        template::load(&self.template, &self.settings)
            .with_context(|| format!("template {}", self.template.display()))
    }

    /// The pool limits of a function, given its reserved concurrency.
    /// A function's pool limits: its reserved concurrency, and the instances
    /// kept ready (`--min-instances` first, else its provisioned concurrency),
    /// never more than it may run at once.
    fn limits(&self, spec: &FunctionSpec) -> Limits {
        let concurrency = spec
            .reserved_concurrency
            .map_or(self.limits.concurrency, |n| n as usize);
        let wanted = self
            .min_instances
            .get(&spec.logical_id)
            .copied()
            .unwrap_or(spec.provisioned) as usize;
        if wanted > concurrency {
            tracing::warn!(function = %spec.logical_id, wanted, concurrency, "more instances kept ready than the function may run at once: keeping {concurrency}");
        }
        Limits {
            concurrency,
            min_instances: wanted.min(concurrency),
            ..self.limits
        }
    }
}

/// A route's Lambda authorizer must be a function of the template: the runner
/// runs it.
fn authorizer_is_served(
    template: &Template,
    spec: &FunctionSpec,
    event: &crate::template::EventSpec,
) -> anyhow::Result<()> {
    let Some(auth) = &event.auth else {
        return Ok(());
    };
    if let crate::template::Authorizer::Lambda(lambda) = &*auth.authorizer
        && !template
            .functions
            .iter()
            .any(|f| f.arn == lambda.function_arn)
    {
        bail!(
            "resource {}, event {}: the authorizer {} names {}, which is not a function of this template",
            spec.logical_id,
            event.name,
            lambda.name,
            lambda.function_arn
        );
    }
    Ok(())
}

/// A function's routes: its API events' and its URL's.
fn add_routes(
    routes: &mut Routes,
    template: &Template,
    index: usize,
    spec: &crate::template::FunctionSpec,
) -> anyhow::Result<()> {
    for event in &spec.events {
        authorizer_is_served(template, spec, event)?;
        routes.add(index, event).map_err(|e| {
            anyhow::anyhow!("resource {}, event {}: {e}", spec.logical_id, event.name)
        })?;
    }
    if let Some(url) = &spec.url {
        routes.add_url(index, &spec.logical_id, url);
    }
    Ok(())
}

/// The routes of a template and a pool per function (in the template's order),
/// or every reason the template cannot be served. A pool of `reuse` whose
/// function runs exactly as before (same program, arguments, folder,
/// environment, timeout and limits) is kept, with its warm instances, unless its
/// function is in `restart`.
pub fn serve(
    template: &Template,
    config: &Config,
    supervisor: &Arc<Supervisor>,
    reuse: &[Arc<Pool>],
    restart: &[String],
    snapshots: Option<&Path>,
) -> anyhow::Result<Served> {
    for name in config.min_instances.keys() {
        if !template.functions.iter().any(|f| &f.logical_id == name) {
            let known: Vec<&str> = template
                .functions
                .iter()
                .map(|f| f.logical_id.as_str())
                .collect();
            bail!(
                "--min-instances {name}: the template has no function {name} (it has: {})",
                known.join(", ")
            );
        }
    }
    let mut routes = Routes::default();
    let mut pools = Vec::new();
    let mut schedules = Vec::new();
    let mut missing = Vec::new();
    for (index, spec) in template.functions.iter().enumerate() {
        add_routes(&mut routes, template, index, spec)?;
        let launch = match launch::launch(spec, config.sources()) {
            Ok(launch) => launch,
            Err(why) => {
                missing.push(why);
                continue;
            }
        };
        let environment = environment(spec, &launch, config)?;
        let origin_modified = std::fs::metadata(&launch.program)
            .and_then(|m| m.modified())
            .ok();
        let mut runtime = Runtime {
            name: spec.logical_id.clone(),
            program: launch.program.clone(),
            origin: launch.program,
            origin_modified,
            args: launch.args,
            dir: launch.task_root,
            environment,
            timeout: spec.timeout,
            memory_mb: spec.memory_mb,
            arn: spec.arn.as_str().into(),
        };
        schedules.extend(spec.schedules.iter().map(|s| (pools.len(), s.clone())));
        let limits = config.limits(spec);
        let kept = reuse.iter().find(|pool| {
            pool.runtime.runs_like(&runtime)
                && pool.limits() == limits
                && !restart.contains(&runtime.name)
        });
        if let Some(pool) = kept {
            pools.push(Arc::clone(pool));
            continue;
        }
        // The program is the function's code (a cargo binary, a bootstrap):
        // run a snapshot, which the next build cannot change under its instances.
        if let Some(dir) = snapshots
            && runtime.args.is_empty()
        {
            match snapshot(&runtime.origin, dir, &spec.logical_id) {
                Ok(path) => runtime.program = path,
                Err(why) => {
                    missing.push(format!("function {}: {why}", spec.logical_id));
                    continue;
                }
            }
        }
        tracing::info!(function = %spec.logical_id, kind = launch.kind, program = %runtime.origin.display(), "function ready to start on demand");
        pools.push(Pool::new(runtime, limits, Arc::clone(supervisor)));
    }
    if !missing.is_empty() {
        bail!("{}", missing.join("\n"));
    }
    Ok(Served {
        routes,
        pools,
        schedules,
    })
}

/// A copy of `program` in `dir` (a hard link when the file system allows: the
/// build replaces its file rather than writing into it, so the link keeps
/// this version).
fn snapshot(program: &Path, dir: &Path, name: &str) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    let copy = dir.join(name);
    let _ = std::fs::remove_file(&copy);
    std::fs::hard_link(program, &copy)
        .or_else(|_| std::fs::copy(program, &copy).map(|_| ()))
        .map_err(|e| {
            format!(
                "cannot copy {} to {}: {e}",
                program.display(),
                copy.display()
            )
        })?;
    Ok(copy)
}

/// What Lambda sets, then the function's own variables (its secrets resolved),
/// then the `--env-file`'s. A dynamic reference left unresolved refuses the start.
fn environment(
    spec: &FunctionSpec,
    launch: &launch::Launch,
    config: &Config,
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
        ("AWS_REGION".to_owned(), config.settings.region.to_owned()),
        (
            "AWS_DEFAULT_REGION".to_owned(),
            config.settings.region.to_owned(),
        ),
        ("TZ".to_owned(), ":UTC".to_owned()),
    ];
    environment.extend(launch.environment.iter().cloned());
    for (name, value) in &spec.environment {
        let value = config.secrets.resolve(value).map_err(|why| {
            anyhow::anyhow!("resource {}, variable {name}: {why}", spec.logical_id)
        })?;
        environment.push((name.clone(), value));
    }
    environment.extend(config.shared_env.iter().cloned());
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
