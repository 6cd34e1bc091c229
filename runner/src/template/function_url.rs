//! A function's `FunctionUrlConfig`: its own HTTPS endpoint on AWS, served by
//! the runner under `/lambda-url/<LogicalId>/`.

use std::sync::Arc;

use serde_json::Value;

use super::cors::{self, CorsSpec};
use super::error::{TemplateError, invalid, only_keys};

/// A function URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionUrl {
    /// `InvokeMode: RESPONSE_STREAM`: the response reaches the client as the
    /// function writes it; `BUFFERED` (the default): whole, as from an HTTP API.
    pub streaming: bool,
    pub cors: Option<Arc<CorsSpec>>,
}

/// `FunctionUrlConfig: { AuthType, InvokeMode, Cors }`.
pub(super) fn function_url(value: &Value, at: &str) -> Result<FunctionUrl, TemplateError> {
    let map = value
        .as_object()
        .ok_or_else(|| invalid(at, "must be a map"))?;
    only_keys(
        map,
        &["AuthType", "InvokeMode", "Cors"],
        at,
        "is not supported by the runner (AuthType, InvokeMode and Cors)",
    )?;
    match map.get("AuthType").and_then(Value::as_str) {
        Some("NONE") => {}
        Some("AWS_IAM") => {
            return Err(invalid(
                format!("{at}.AuthType"),
                "AWS_IAM is not supported by the runner (it cannot check SigV4 signatures); \
                 use NONE locally",
            ));
        }
        _ => return Err(invalid(format!("{at}.AuthType"), "must be NONE or AWS_IAM")),
    }
    let streaming = match map.get("InvokeMode").map(Value::as_str) {
        None | Some(Some("BUFFERED")) => false,
        Some(Some("RESPONSE_STREAM")) => true,
        Some(_) => {
            return Err(invalid(
                format!("{at}.InvokeMode"),
                "must be BUFFERED or RESPONSE_STREAM",
            ));
        }
    };
    let cors = match map.get("Cors") {
        None => None,
        Some(Value::Object(_)) => {
            cors::http_api(&map["Cors"], &format!("{at}.Cors"))?.map(Arc::new)
        }
        Some(_) => return Err(invalid(format!("{at}.Cors"), "must be a map")),
    };
    Ok(FunctionUrl { streaming, cors })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_function_url_is_buffered_unless_it_streams_and_never_iam() {
        let url = function_url(&json!({"AuthType": "NONE"}), "at").unwrap();
        assert!(!url.streaming && url.cors.is_none());
        let url = function_url(
            &json!({"AuthType": "NONE", "InvokeMode": "RESPONSE_STREAM",
                    "Cors": {"AllowOrigins": ["https://shop.example"]}}),
            "at",
        )
        .unwrap();
        assert!(url.streaming);
        assert_eq!(url.cors.unwrap().allow_origins, ["https://shop.example"]);
        for (config, why) in [
            (json!({"AuthType": "AWS_IAM"}), "SigV4"),
            (json!({}), "must be NONE or AWS_IAM"),
            (
                json!({"AuthType": "NONE", "InvokeMode": "FAST"}),
                "RESPONSE_STREAM",
            ),
            (json!({"AuthType": "NONE", "Cors": true}), "must be a map"),
            (
                json!({"AuthType": "NONE", "Qualifier": "live"}),
                "is not supported",
            ),
        ] {
            let e = function_url(&config, "at").unwrap_err().to_string();
            assert!(e.contains(why), "{config}: {e}");
        }
    }
}
