//! One `AWS::Serverless::Function`: which of its keys the runner honours, which it
//! ignores because they change nothing locally, and which it refuses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::error::{TemplateError, invalid};
use super::events::{EventSpec, event_spec};
use super::function_url::{FunctionUrl, function_url};
use super::intrinsics::{Scope, scalar_string};
use super::schedule::{ScheduleSpec, schedule_spec};

pub(crate) const FUNCTION_TYPE: &str = "AWS::Serverless::Function";

/// Keys that change nothing when the function runs on one machine.
const IGNORED: &[&str] = &[
    "Architectures",
    "Description",
    "Tags",
    "Policies",
    "Role",
    "PermissionsBoundary",
    "Tracing",
    "VpcConfig",
    "LoggingConfig",
    "AutoPublishAlias",
    "AutoPublishCodeSha256",
    "DeploymentPreference",
    "KmsKeyArn",
    "EphemeralStorage",
    "RuntimeManagementConfig",
    "SnapStart",
    "CodeSigningConfigArn",
    "DeadLetterQueue",
    "EventInvokeConfig",
    "RecursiveLoop",
    "PropagateTags",
    "VersionDescription",
    "AssumeRolePolicyDocument",
    "RolePath",
];
const HONOURED: &[&str] = &[
    "Runtime",
    "Handler",
    "CodeUri",
    "FunctionName",
    "Environment",
    "Timeout",
    "MemorySize",
    "ReservedConcurrentExecutions",
    "ProvisionedConcurrencyConfig",
    "Events",
    "PackageType",
    "FunctionUrlConfig",
];

/// A function as the runner runs it.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub logical_id: String,
    pub function_name: String,
    pub arn: String,
    pub code_uri: PathBuf,
    /// `Metadata.BuildProperties.Binary`, when given.
    pub binary: Option<String>,
    /// `Runtime` (`provided.al2023`, `python3.12`, …), when given.
    pub runtime: Option<String>,
    /// `Handler`, when given (`module.function` for Python; any text for
    /// `provided` runtimes, which see it as `_HANDLER`).
    pub handler: Option<String>,
    pub environment: BTreeMap<String, String>,
    pub timeout: Duration,
    pub memory_mb: u32,
    pub reserved_concurrency: Option<u32>,
    /// `ProvisionedConcurrencyConfig.ProvisionedConcurrentExecutions`: instances
    /// kept started and ready; 0 when not given.
    pub provisioned: u32,
    pub events: Vec<EventSpec>,
    /// `Schedule` and `ScheduleV2` events.
    pub schedules: Vec<ScheduleSpec>,
    /// `FunctionUrlConfig`, when given.
    pub url: Option<FunctionUrl>,
}

pub(crate) fn build(
    id: &str,
    name: String,
    arn: String,
    properties: &Value,
    metadata: &Value,
    base: &Path,
    scope: &Scope,
) -> Result<FunctionSpec, TemplateError> {
    let at = |key: &str| format!("resource {id}, key {key}");
    let empty = serde_json::Map::new();
    let props = properties.as_object().unwrap_or(&empty);
    for key in props.keys() {
        if !IGNORED.contains(&key.as_str()) && !HONOURED.contains(&key.as_str()) {
            return Err(invalid(at(key), "is not supported by the runner"));
        }
    }
    if let Some(kind) = props.get("PackageType").and_then(Value::as_str)
        && kind != "Zip"
    {
        return Err(invalid(
            at("PackageType"),
            "only Zip functions (a binary) can run",
        ));
    }
    let function_name = props
        .get("FunctionName")
        .and_then(Value::as_str)
        .map_or(name.clone(), str::to_owned);
    let arn = arn.replace(
        &format!("function:{name}"),
        &format!("function:{function_name}"),
    );
    let code_uri = match props.get("CodeUri") {
        Some(Value::String(uri)) if !uri.starts_with("s3://") => base.join(uri),
        Some(_) => {
            return Err(invalid(
                at("CodeUri"),
                "must be a local path (S3 locations cannot run)",
            ));
        }
        None => base.to_owned(),
    };
    let binary = binary_name(id, metadata)?;
    let runtime = text(props, "Runtime", &at)?;
    let handler = text(props, "Handler", &at)?;
    let environment = environment(props.get("Environment"), &at)?;
    let number = |key: &str| -> Result<Option<u64>, TemplateError> {
        match props.get(key) {
            None => Ok(None),
            Some(v) => scalar_string(v)
                .and_then(|s| s.parse::<u64>().ok())
                .map(Some)
                .ok_or_else(|| invalid(at(key), "must be a whole number")),
        }
    };
    let timeout = Duration::from_secs(number("Timeout")?.unwrap_or(3).clamp(1, 900));
    let memory_mb = number("MemorySize")?.unwrap_or(128).clamp(128, 10240) as u32;
    let reserved_concurrency = number("ReservedConcurrentExecutions")?.map(|n| n as u32);
    let provisioned = provisioned(props.get("ProvisionedConcurrencyConfig"), &at)?;
    let (events, schedules) = events(id, props.get("Events"), scope, &at)?;
    let url = match props.get("FunctionUrlConfig") {
        None | Some(Value::Null) => None,
        Some(config) => Some(function_url(config, &at("FunctionUrlConfig"))?),
    };
    Ok(FunctionSpec {
        logical_id: id.to_owned(),
        function_name,
        arn,
        code_uri,
        binary,
        runtime,
        handler,
        environment,
        timeout,
        memory_mb,
        reserved_concurrency,
        provisioned,
        events,
        schedules,
        url,
    })
}

/// `ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: N }`.
fn provisioned(config: Option<&Value>, at: &dyn Fn(&str) -> String) -> Result<u32, TemplateError> {
    let key = "ProvisionedConcurrencyConfig";
    let Some(config) = config.filter(|c| !c.is_null()) else {
        return Ok(0);
    };
    let count = config
        .as_object()
        .ok_or_else(|| invalid(at(key), "must be a map"))?
        .get("ProvisionedConcurrentExecutions")
        .ok_or_else(|| invalid(at(key), "needs ProvisionedConcurrentExecutions"))?;
    scalar_string(count)
        .and_then(|s| s.parse::<u32>().ok())
        .ok_or_else(|| {
            invalid(
                at(key),
                "ProvisionedConcurrentExecutions must be a whole number",
            )
        })
}

/// The function's HTTP events and its schedules.
fn events(
    id: &str,
    value: Option<&Value>,
    scope: &Scope,
    at: &dyn Fn(&str) -> String,
) -> Result<(Vec<EventSpec>, Vec<ScheduleSpec>), TemplateError> {
    let (mut events, mut schedules) = (Vec::new(), Vec::new());
    let Some(map) = value else {
        return Ok((events, schedules));
    };
    let map = map
        .as_object()
        .ok_or_else(|| invalid(at("Events"), "is not a mapping"))?;
    for (event_name, event) in map {
        let kind = event["Type"].as_str().unwrap_or_default();
        if kind != "Schedule" && kind != "ScheduleV2" {
            events.push(event_spec(id, event_name, event, scope)?);
            continue;
        }
        let empty = serde_json::Map::new();
        let props = event["Properties"].as_object().unwrap_or(&empty);
        let pseudo = |key: &str| {
            scope
                .pseudo
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let (region, account) = (pseudo("AWS::Region"), pseudo("AWS::AccountId"));
        let rule_name = props
            .get("Name")
            .and_then(scalar_string)
            .unwrap_or_else(|| format!("{}-{id}{event_name}", pseudo("AWS::StackName")));
        let arn = if kind == "Schedule" {
            format!("arn:aws:events:{region}:{account}:rule/{rule_name}")
        } else {
            format!("arn:aws:scheduler:{region}:{account}:schedule/default/{rule_name}")
        };
        let at_event = |key: &str| at(&format!("Events.{event_name}{key}"));
        schedules.push(schedule_spec(kind, event_name, props, arn, &at_event)?);
    }
    Ok((events, schedules))
}

/// A property that is a string, if given.
fn text(
    props: &serde_json::Map<String, Value>,
    key: &str,
    at: &dyn Fn(&str) -> String,
) -> Result<Option<String>, TemplateError> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => scalar_string(v)
            .map(Some)
            .ok_or_else(|| invalid(at(key), "must be a string")),
    }
}

/// `Metadata.BuildProperties.Binary`. The rest of `Metadata` (build settings, tool
/// annotations such as cfn_nag's, the `SamResourceId` that `sam build` adds) never
/// changes how a function runs.
fn binary_name(id: &str, metadata: &Value) -> Result<Option<String>, TemplateError> {
    match &metadata["BuildProperties"]["Binary"] {
        Value::Null => Ok(None),
        Value::String(binary) => Ok(Some(binary.clone())),
        _ => Err(invalid(
            format!("resource {id}, key Metadata.BuildProperties.Binary"),
            "must be a string",
        )),
    }
}

fn environment(
    value: Option<&Value>,
    at: &dyn Fn(&str) -> String,
) -> Result<BTreeMap<String, String>, TemplateError> {
    let mut out = BTreeMap::new();
    let Some(value) = value else { return Ok(out) };
    let map = value
        .as_object()
        .ok_or_else(|| invalid(at("Environment"), "is not a mapping"))?;
    for (key, v) in map {
        if key != "Variables" {
            return Err(invalid(
                at(&format!("Environment.{key}")),
                "is not supported by the runner",
            ));
        }
        let vars = v
            .as_object()
            .ok_or_else(|| invalid(at("Environment.Variables"), "is not a mapping"))?;
        for (name, v) in vars {
            let value = scalar_string(v).ok_or_else(|| {
                invalid(
                    at(&format!("Environment.Variables.{name}")),
                    "must be a string, number or boolean",
                )
            })?;
            out.insert(name.clone(), value);
        }
    }
    Ok(out)
}
