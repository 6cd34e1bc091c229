//! A template the runner cannot honour stops it at start-up with a message naming
//! the resource and the key.

mod common;

#[test]
fn an_unsupported_key_is_a_startup_error_naming_the_resource_and_the_key() {
    let stderr = common::start_failure("unsupported-key.yaml");
    assert!(stderr.contains("resource Layered, key Layers"), "{stderr}");
    assert!(stderr.contains("not supported"), "{stderr}");
}

#[test]
fn an_unsupported_event_type_is_a_startup_error() {
    let stderr = common::start_failure("unsupported-event.yaml");
    assert!(
        stderr.contains("resource Queued, key Events.FromQueue.Type"),
        "{stderr}"
    );
}

#[test]
fn a_missing_binary_is_a_startup_error_naming_the_function_and_the_build_command() {
    let stderr = common::start_failure("missing-binary.yaml");
    assert!(
        stderr.contains("function Ghost: no binary found"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cargo build -p runner-test-functions --bin ghost-function"),
        "{stderr}"
    );
}

#[test]
fn a_parameter_without_default_or_override_is_a_startup_error() {
    let stderr = common::start_failure("missing-parameter.yaml");
    assert!(
        stderr.contains("parameter Secret") && stderr.contains("--parameter-overrides"),
        "{stderr}"
    );
}
