//! Unit tests of template loading: intrinsics, globals, parameters and refusals.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::*;

fn settings(overrides: &[(&str, &str)]) -> Settings {
    Settings {
        region: "eu-west-1".into(),
        account_id: "111122223333".into(),
        stack_name: "shop".into(),
        parameter_overrides: overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn load_text(text: &str, overrides: &[(&str, &str)]) -> Result<Template, TemplateError> {
    parse(text, Path::new("/srv/app"), &settings(overrides))
}

fn error(text: &str) -> String {
    load_text(text, &[]).unwrap_err().to_string()
}

const BASIC: &str = r#"
Parameters:
  Stage: { Type: String, Default: dev }
  Size: { Type: Number, Default: 512 }
Globals:
  Function:
    Timeout: 5
    Runtime: provided.al2023
    Handler: bootstrap
    MemorySize: !Ref Size
    Environment: { Variables: { SHARED: one, STAGE: !Ref Stage } }
Resources:
  Api:
    Type: AWS::Serverless::Function
    Metadata: { BuildMethod: rust-cargolambda, BuildProperties: { Binary: api-bin } }
    Properties:
      CodeUri: functions/api
      Timeout: 9
      Handler: !Sub "${Stage}.handler"
      ReservedConcurrentExecutions: 3
      Environment:
        Variables:
          STAGE: !Sub "${Stage}-${AWS::Region}"
          LITERAL: !Sub "${!NotAVar}"
          URL: !Sub
            - "https://${Host}/${AWS::StackName}"
            - { Host: example.invalid }
      Events:
        Get: { Type: HttpApi, Properties: { Path: "/things/{id}", Method: get } }
        Old: { Type: Api, Properties: { Path: /old, Method: any } }
  Table:
    Type: AWS::DynamoDB::Table
"#;

#[test]
fn globals_parameters_and_substitutions_are_resolved() {
    let t = load_text(BASIC, &[("Stage", "prod")]).unwrap();
    let f = &t.functions[0];
    assert_eq!(f.logical_id, "Api");
    assert_eq!(f.timeout, Duration::from_secs(9));
    assert_eq!(f.memory_mb, 512);
    assert_eq!(f.reserved_concurrency, Some(3));
    assert_eq!(f.binary.as_deref(), Some("api-bin"));
    assert_eq!(f.runtime.as_deref(), Some("provided.al2023"));
    assert_eq!(f.handler.as_deref(), Some("prod.handler"));
    assert_eq!(f.code_uri, Path::new("/srv/app/functions/api"));
    assert_eq!(f.environment["SHARED"], "one");
    assert_eq!(f.environment["STAGE"], "prod-eu-west-1");
    assert_eq!(f.environment["LITERAL"], "${NotAVar}");
    assert_eq!(f.environment["URL"], "https://example.invalid/shop");
    assert_eq!(f.arn, "arn:aws:lambda:eu-west-1:111122223333:function:Api");
    assert_eq!(
        t.other_resources,
        [("Table".to_owned(), "AWS::DynamoDB::Table".to_owned())]
    );
}

#[test]
fn http_api_events_are_payload_2_and_api_events_payload_1() {
    let t = load_text(BASIC, &[]).unwrap();
    let events = &t.functions[0].events;
    let get = events.iter().find(|e| e.name == "Get").unwrap();
    assert_eq!(
        (get.method.as_str(), get.path.as_str(), get.payload),
        ("GET", "/things/{id}", PayloadVersion::V2)
    );
    let old = events.iter().find(|e| e.name == "Old").unwrap();
    assert_eq!(
        (old.method.as_str(), old.payload, old.stage.as_str()),
        ("ANY", PayloadVersion::V1, "Prod")
    );
}

#[test]
fn the_long_forms_of_intrinsics_are_understood() {
    let t = load_text(
        r#"{"Resources": {"F": {"Type": "AWS::Serverless::Function", "Properties": {
            "Environment": {"Variables": {"R": {"Ref": "AWS::AccountId"}, "S": {"Fn::Sub": "${AWS::Partition}"},
            "N": {"Ref": "AWS::NoValue"}}}}}}}"#,
        &[],
    )
    .unwrap();
    let env = &t.functions[0].environment;
    assert_eq!(env["R"], "111122223333");
    assert_eq!(env["S"], "aws");
    assert!(!env.contains_key("N"), "AWS::NoValue removes the key");
}

#[test]
fn an_unknown_function_key_names_the_resource_and_the_key() {
    let e = error(
        "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Layers: [x]\n",
    );
    assert!(e.contains("resource F, key Layers"), "{e}");
}

#[test]
fn keys_without_local_effect_are_accepted() {
    let t = load_text(
        "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: provided.al2023\n      Architectures: [arm64]\n      Policies: [AWSLambdaBasicExecutionRole]\n      Tags: { a: b }\n",
        &[],
    );
    assert!(t.is_ok());
}

#[test]
fn an_apis_own_cors_setting_wins_over_the_globals_even_when_it_is_off() {
    let text = "Globals:\n  HttpApi:\n    CorsConfiguration: true\nResources:\n  Closed:\n    Type: AWS::Serverless::HttpApi\n    Properties:\n      CorsConfiguration: false\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: provided.al2023\n      Events:\n        Open: { Type: HttpApi, Properties: { Path: /open, Method: GET } }\n        Shut: { Type: HttpApi, Properties: { Path: /shut, Method: GET, ApiId: !Ref Closed } }\n";
    let t = load_text(text, &[]).unwrap();
    let events = &t.functions[0].events;
    let cors_of = |name: &str| events.iter().find(|e| e.name == name).unwrap().cors.clone();
    assert_eq!(cors_of("Open").unwrap().allow_origins, ["*"]);
    assert_eq!(cors_of("Shut"), None);
}

#[test]
fn provisioned_concurrency_is_read_from_the_function_or_its_globals() {
    let function = |props: &str| {
        format!(
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: provided.al2023\n{props}"
        )
    };
    let t = load_text(
        &function("      ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 3 }\n"),
        &[],
    )
    .unwrap();
    assert_eq!(t.functions[0].provisioned, 3);
    let globals = format!(
        "Globals:\n  Function:\n    ProvisionedConcurrencyConfig: {{ ProvisionedConcurrentExecutions: \"2\" }}\n{}",
        function("")
    );
    assert_eq!(
        load_text(&globals, &[]).unwrap().functions[0].provisioned,
        2
    );
    assert_eq!(
        load_text(&function(""), &[]).unwrap().functions[0].provisioned,
        0
    );
    for bad in [
        "      ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: many }\n",
        "      ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: -1 }\n",
        "      ProvisionedConcurrencyConfig: {}\n",
        "      ProvisionedConcurrencyConfig: 2\n",
    ] {
        let e = error(&function(bad));
        assert!(
            e.contains("resource F, key ProvisionedConcurrencyConfig"),
            "{e}"
        );
    }
}

#[test]
fn an_unsupported_intrinsic_is_an_error_naming_where_it_is() {
    let e = error(
        "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Timeout: !If [c, 1, 2]\n",
    );
    assert!(e.contains("resource F") && e.contains("Fn::If"), "{e}");
}

#[test]
fn a_ref_to_a_resource_without_a_local_value_is_an_error() {
    let e = error(
        "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Environment: { Variables: { TABLE: !Ref T } }\n",
    );
    assert!(
        e.contains("TABLE") && e.contains("AWS::DynamoDB::Table"),
        "{e}"
    );
}

#[test]
fn an_override_for_an_undeclared_parameter_is_an_error() {
    let e = load_text(BASIC, &[("Nope", "1")]).unwrap_err().to_string();
    assert!(e.contains("Nope"), "{e}");
}

#[test]
fn a_value_outside_allowed_values_is_an_error() {
    let text =
        "Parameters:\n  C: { Type: String, AllowedValues: [a, b], Default: a }\nResources: {}\n";
    assert!(
        load_text(text, &[("C", "z")])
            .unwrap_err()
            .to_string()
            .contains("AllowedValues")
    );
}

#[test]
fn api_resources_with_behaviour_the_runner_cannot_honour_are_refused() {
    let e = error(
        "Resources:\n  Http:\n    Type: AWS::Serverless::HttpApi\n    Properties:\n      Auth: { DefaultAuthorizer: x }\n",
    );
    assert!(e.contains("resource Http, key Properties.Auth"), "{e}");
}

#[test]
fn globals_for_apis_are_checked_like_api_resources_and_others_refused() {
    let e = error("Globals:\n  Api: { Auth: { ResourcePolicy: {} } }\nResources: {}\n");
    assert!(e.contains("Globals, key Api.Auth"), "{e}");
    // Authorizers are served, and checked.
    let e = error("Globals:\n  HttpApi: { Auth: { DefaultAuthorizer: x } }\nResources: {}\n");
    assert!(e.contains("HttpApi.Auth.DefaultAuthorizer"), "{e}");
    // CORS is served: an HTTP API's setting is understood, a REST API's is refused.
    let e = error("Globals:\n  HttpApi: { Cors: \"'*'\" }\nResources: {}\n");
    assert!(e.contains("Globals.HttpApi, key Properties.Cors"), "{e}");
    let e = error("Globals:\n  HttpApi: { CorsConfiguration: 7 }\nResources: {}\n");
    assert!(e.contains("CorsConfiguration"), "{e}");
    assert!(
        load_text(
            "Globals:\n  Api: { OpenApiVersion: '3.0' }\nResources: {}\n",
            &[]
        )
        .is_ok()
    );
    let e = error("Globals:\n  SimpleTable: { SSESpecification: {} }\nResources: {}\n");
    assert!(e.contains("Globals, key SimpleTable"), "{e}");
}

#[test]
fn length_and_value_bounds_of_parameters_are_enforced_without_echoing_the_value() {
    let text = "Parameters:\n  S: { Type: String, MinLength: 32, NoEcho: true }\n  N: { Type: Number, Default: 5, MaxValue: 10 }\nResources: {}\n";
    let e = load_text(text, &[("S", "short-secret")])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("parameter S") && e.contains("MinLength") && !e.contains("short-secret"),
        "{e}"
    );
    let e = load_text(text, &[("S", &"x".repeat(32)), ("N", "11")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("parameter N") && e.contains("MaxValue"), "{e}");
    assert!(load_text(text, &[("S", &"x".repeat(32))]).is_ok());
}

#[test]
fn allowed_patterns_must_match_the_whole_value() {
    let text = "Parameters:\n  Env: { Type: String, Default: dev, AllowedPattern: '[a-z]+' }\n  Key: { Type: String, NoEcho: true, AllowedPattern: '[0-9a-f]{8}' }\nResources: {}\n";
    assert!(load_text(text, &[("Key", "deadbeef")]).is_ok());
    let e = load_text(text, &[("Env", "dev-1"), ("Key", "deadbeef")])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("parameter Env") && e.contains("\"dev-1\" does not match its AllowedPattern"),
        "{e}"
    );
    // A partial match is not enough, and a NoEcho value is not repeated.
    let e = load_text(text, &[("Key", "deadbeef0")])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("parameter Key") && e.contains("AllowedPattern") && !e.contains("deadbeef0"),
        "{e}"
    );
}

#[test]
fn a_pattern_the_runner_cannot_read_is_refused_not_skipped() {
    let e = error(
        "Parameters:\n  P: { Type: String, Default: a, AllowedPattern: '(?!b)a' }\nResources: {}\n",
    );
    assert!(
        e.contains("parameter P, key AllowedPattern") && e.contains("cannot check"),
        "{e}"
    );
}

#[test]
fn allowed_patterns_keep_their_anchors_and_apply_to_each_list_item() {
    let text = "Parameters:\n  Env: { Type: String, Default: dev, AllowedPattern: 'dev|prod' }\n  Zones: { Type: CommaDelimitedList, Default: 'a, b', AllowedPattern: '[a-z]' }\nResources: {}\n";
    assert!(load_text(text, &[]).is_ok());
    // Without the group, `^dev|prod$` would let "devx" through.
    let e = load_text(text, &[("Env", "devx")]).unwrap_err().to_string();
    assert!(e.contains("parameter Env"), "{e}");
    let e = load_text(text, &[("Zones", "a,bc")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("parameter Zones"), "{e}");
    // An unbalanced pattern is refused rather than let out of its anchors.
    let e = error(
        "Parameters:\n  P: { Type: String, Default: x, AllowedPattern: 'x)|(y' }\nResources: {}\n",
    );
    assert!(e.contains("key AllowedPattern"), "{e}");
}

#[test]
fn a_no_echo_value_is_never_repeated_in_an_error() {
    let text = "Parameters:\n  N: { Type: Number, NoEcho: true }\nResources: {}\n";
    let e = load_text(text, &[("N", "s3cret")]).unwrap_err().to_string();
    assert!(
        e.contains("is not a Number") && !e.contains("s3cret"),
        "{e}"
    );
}

#[test]
fn select_split_join_and_function_references_are_resolved() {
    let t = load_text(
        r#"
Parameters:
  Zones: { Type: CommaDelimitedList, Default: "a,b,c" }
Resources:
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: worker-fn
  Front:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          SECOND_ZONE: !Select [1, !Ref Zones]
          FIRST_PART: !Select [0, !Split ["/", "left/right"]]
          JOINED: { "Fn::Join": ["+", [x, !Ref AWS::Region]] }
          WORKER_NAME: !Ref Worker
          WORKER_ARN: { "Fn::GetAtt": [Worker, Arn] }
          WORKER_SUB: !Sub "calls ${Worker.Arn}"
"#,
        &[],
    )
    .unwrap();
    let front = t.functions.iter().find(|f| f.logical_id == "Front");
    let env = &front.unwrap().environment;
    let arn = "arn:aws:lambda:eu-west-1:111122223333:function:worker-fn";
    assert_eq!(env["SECOND_ZONE"], "b");
    assert_eq!(env["FIRST_PART"], "left");
    assert_eq!(env["JOINED"], "x+eu-west-1");
    assert_eq!(env["WORKER_NAME"], "worker-fn");
    assert_eq!(env["WORKER_ARN"], arn);
    assert_eq!(env["WORKER_SUB"], format!("calls {arn}"));
}

#[test]
fn intrinsics_that_cannot_be_resolved_name_the_resource_and_the_problem() {
    let with = |value: &str| {
        error(&format!(
            "Resources:\n  Table: {{ Type: AWS::DynamoDB::Table }}\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Environment: {{ Variables: {{ V: {value} }} }}\n"
        ))
    };
    for (value, expected) in [
        (
            "!Ref Nowhere",
            "!Ref Nowhere: no such parameter or resource",
        ),
        ("!GetAtt Table.Arn", "has no local value"),
        ("!GetAtt Nowhere.Arn", "!GetAtt Nowhere: no such resource"),
        ("!Select [5, [a, b]]", "!Select index is out of range"),
        ("!Select [a]", "!Select takes [index, [values]]"),
        ("!Split [\",\"]", "!Split takes [delimiter, string]"),
        ("!Join [\",\"]", "!Join takes [delimiter, [values]]"),
        (
            "!Sub [1, 2, 3]",
            "!Sub takes a string or [string, {variables}]",
        ),
    ] {
        let e = with(value);
        assert!(
            e.contains("resource F") && e.contains(expected),
            "{value}: {e}"
        );
    }
}

#[test]
fn event_variants_payload_versions_default_routes_and_api_references() {
    let t = load_text(
        r#"
Resources:
  Http:
    Type: AWS::Serverless::HttpApi
    Properties: { StageName: live }
  F:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Old: { Type: HttpApi, Properties: { ApiId: !Ref Http, Path: /old, Method: GET, PayloadFormatVersion: "1.0" } }
        Rest: { Type: HttpApi }
        Any: { Type: Api, Properties: { Path: /any, Method: x-amazon-apigateway-any-method } }
"#,
        &[],
    )
    .unwrap();
    let events = &t.functions[0].events;
    let by_name = |name: &str| events.iter().find(|e| e.name == name).unwrap();
    assert_eq!(by_name("Old").payload, PayloadVersion::V1);
    assert_eq!(
        by_name("Old").stage,
        "live",
        "the referenced API's StageName"
    );
    let rest = by_name("Rest");
    assert_eq!(
        (rest.path.as_str(), rest.method.as_str(), rest.payload),
        ("$default", "ANY", PayloadVersion::V2)
    );
    assert_eq!(by_name("Any").method, "ANY");
}

#[test]
fn events_and_functions_the_runner_cannot_honour_are_refused_by_key() {
    let function = |properties: &str| {
        error(&format!(
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties: {properties}\n"
        ))
    };
    for (properties, expected) in [
        (
            "{ Events: { E: { Type: HttpApi, Properties: { ApiId: !Ref Nowhere, Path: /x, Method: GET } } } }",
            "resource F, key Events.E.Properties.ApiId",
        ),
        (
            "{ Events: { E: { Type: Api, Properties: { Path: /x } } } }",
            "needs a Path starting with / and a Method",
        ),
        (
            "{ Events: { E: { Type: HttpApi, Properties: { Path: x, Method: GET } } } }",
            "needs a Path starting with / and a Method",
        ),
        (
            "{ Events: { E: { Type: Api, Properties: { Path: /x, Method: GET, Auth: { ApiKeyRequired: true } } } } }",
            "Properties.Auth",
        ),
        (
            "{ Events: { E: { Type: HttpApi, Properties: { Path: /x, Method: GET, Auth: { Authorizer: Nope } } } } }",
            "names no authorizer of the route's API: Nope",
        ),
        ("{ PackageType: Image }", "key PackageType"),
        ("{ CodeUri: s3://bucket/code.zip }", "key CodeUri"),
        ("{ Environment: { KmsKey: x } }", "key Environment.KmsKey"),
    ] {
        let e = function(properties);
        assert!(e.contains(expected), "{properties}: {e}");
    }
    let e = error("Resources:\n  F: { Type: AWS::Serverless::Function, Condition: IsProd }\n");
    assert!(e.contains("resource F, key Condition"), "{e}");
    let e = error("Resources: {}\nOddSection: {}\n");
    assert!(e.contains("template key OddSection"), "{e}");
}

#[test]
fn names_metadata_connectors_and_ignored_globals_as_sam_has_them() {
    let t = load_text(
        r#"
Parameters:
  Env: { Type: String, Default: test }
Globals:
  Function:
    Timeout: 7
    Environment: { Variables: { SHARED: yes } }
Resources:
  Orders:
    Type: AWS::Serverless::Function
    IgnoreGlobals: [Environment]
    Connectors:
      Read: { Properties: { Destination: { Id: Table }, Permissions: [Read] } }
    Metadata:
      SamResourceId: Orders
      cfn_nag: { rules_to_suppress: [{ id: W89 }] }
      BuildProperties: { Binary: orders-bin }
    Properties:
      FunctionName: !Sub "${AWS::StackName}-${Env}-orders"
  Caller:
    Type: AWS::Serverless::Function
    IgnoreGlobals: "*"
    Properties:
      Environment: { Variables: { TARGET: !Ref Orders, TARGET_ARN: !GetAtt Orders.Arn } }
  Table:
    Type: AWS::Serverless::SimpleTable
"#,
        &[],
    )
    .unwrap();
    let by_id = |id: &str| t.functions.iter().find(|f| f.logical_id == id).unwrap();
    let orders = by_id("Orders");
    assert_eq!(orders.function_name, "shop-test-orders");
    assert_eq!(orders.binary.as_deref(), Some("orders-bin"));
    assert_eq!(
        orders.timeout,
        Duration::from_secs(7),
        "only Environment is ignored"
    );
    assert!(!orders.environment.contains_key("SHARED"));
    let caller = by_id("Caller");
    assert_eq!(
        caller.timeout,
        Duration::from_secs(3),
        "every global is ignored"
    );
    assert_eq!(caller.environment["TARGET"], "shop-test-orders");
    assert_eq!(
        caller.environment["TARGET_ARN"],
        "arn:aws:lambda:eu-west-1:111122223333:function:shop-test-orders"
    );
}

#[test]
fn stage_names_come_from_the_api_then_the_globals_then_sam_defaults() {
    let t = load_text(
        r#"
Parameters:
  Stage: { Type: String, Default: v1 }
Globals:
  Api: { StageName: !Ref Stage }
Resources:
  Rest:
    Type: AWS::Serverless::Api
    Properties: { StageName: beta }
  F:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Implicit: { Type: Api, Properties: { Path: /a, Method: GET } }
        Explicit: { Type: Api, Properties: { RestApiId: !Ref Rest, Path: /b, Method: GET } }
        Http: { Type: HttpApi, Properties: { Path: /c, Method: GET } }
"#,
        &[],
    )
    .unwrap();
    let stage = |name: &str| {
        let events = &t.functions[0].events;
        events
            .iter()
            .find(|e| e.name == name)
            .unwrap()
            .stage
            .clone()
    };
    assert_eq!(stage("Implicit"), "v1");
    assert_eq!(stage("Explicit"), "beta");
    assert_eq!(stage("Http"), "$default");
    let e = error(
        "Resources:\n  T: { Type: AWS::Serverless::SimpleTable }\n  F:\n    Type: AWS::Serverless::Function\n    Properties: { Events: { E: { Type: Api, Properties: { RestApiId: !Ref T, Path: /x, Method: GET } } } }\n",
    );
    assert!(
        e.contains("must be !Ref to an AWS::Serverless::Api resource"),
        "{e}"
    );
}

#[test]
fn a_function_can_remove_or_replace_what_its_globals_set() {
    let t = load_text(
        r#"
Parameters:
  Size: { Type: Number, Default: 256 }
Globals:
  Function:
    MemorySize: !Ref Size
    Environment: { Variables: { DROPPED: global, KEPT: global, SWAPPED: !Ref Size } }
Resources:
  F:
    Type: AWS::Serverless::Function
    Properties:
      MemorySize: !Sub "${Size}0"
      Environment:
        Variables:
          DROPPED: !Ref AWS::NoValue
          SWAPPED: !Sub "${AWS::Region}"
"#,
        &[],
    )
    .unwrap();
    let f = &t.functions[0];
    assert_eq!(
        f.memory_mb, 2560,
        "an intrinsic replaces an intrinsic whole"
    );
    assert!(!f.environment.contains_key("DROPPED"));
    assert_eq!(f.environment["KEPT"], "global");
    assert_eq!(f.environment["SWAPPED"], "eu-west-1");
}

#[test]
fn schedules_are_read_and_what_cannot_run_is_an_error_naming_the_key() {
    let template = |events: &str| {
        format!(
            "Resources:\n  Job:\n    Type: AWS::Serverless::Function\n    Properties:\n      \
             CodeUri: job\n      Events:\n{events}"
        )
    };
    let good = template(
        "        Tick:\n          Type: Schedule\n          Properties:\n            \
         Schedule: !Sub 'rate(${Minutes} minutes)'\n            Name: tick-rule\n",
    );
    let good = format!("Parameters:\n  Minutes: {{Type: Number, Default: 5}}\n{good}");
    let t = load_text(&good, &[]).unwrap();
    let schedule = &t.functions[0].schedules[0];
    assert_eq!(schedule.text, "rate(5 minutes)");
    assert_eq!(
        schedule.arn,
        "arn:aws:events:eu-west-1:111122223333:rule/tick-rule"
    );
    assert!(schedule.enabled && schedule.rule && schedule.input.is_none());
    assert!(t.functions[0].events.is_empty());

    let bad_cron = template(
        "        Tick:\n          Type: Schedule\n          Properties:\n            \
         Schedule: cron(0 12 L * ? *)\n",
    );
    let e = error(&bad_cron);
    assert!(
        e.contains("resource Job, key Events.Tick.Properties.Schedule"),
        "{e}"
    );
    assert!(e.contains("not supported"), "{e}");
    let zone = template(
        "        Tick:\n          Type: ScheduleV2\n          Properties:\n            \
         ScheduleExpression: rate(1 day)\n            ScheduleExpressionTimezone: Europe/Paris\n",
    );
    assert!(error(&zone).contains("only UTC"));
    let input = template(
        "        Tick:\n          Type: Schedule\n          Properties:\n            \
         Schedule: rate(1 day)\n            Input: 'not json'\n",
    );
    assert!(error(&input).contains("key Events.Tick.Properties.Input"));
    let unknown = template(
        "        Tick:\n          Type: Schedule\n          Properties:\n            \
         Schedule: rate(1 day)\n            Target: x\n",
    );
    assert!(error(&unknown).contains("key Events.Tick.Properties.Target"));
}
