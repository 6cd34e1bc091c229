//! An API's CORS settings: an HTTP API's `CorsConfiguration` and a REST API's
//! `Cors`, on the API resource or in `Globals`.

use serde_json::Value;

use super::error::{TemplateError, invalid, only_keys};

/// What an API allows across origins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsSpec {
    /// Origins as the browser sends them (`https://shop.example`), or `*`.
    pub allow_origins: Vec<String>,
    /// Upper-case methods, or `*`.
    pub allow_methods: Vec<String>,
    /// Lower-case header names, or `*`.
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age: Option<u64>,
    pub allow_credentials: bool,
    /// An HTTP API puts its CORS headers on every response (replacing the
    /// function's own); a REST API answers preflights only, and its functions
    /// add their own headers to responses.
    pub on_responses: bool,
}

/// An HTTP API's `CorsConfiguration`: `true` (any origin, method and header), or
/// a map of `AllowOrigins`, `AllowMethods`, `AllowHeaders`, `ExposeHeaders`
/// (lists), `MaxAge` and `AllowCredentials`.
pub(super) fn http_api(value: &Value, at: &str) -> Result<Option<CorsSpec>, TemplateError> {
    let any = || vec!["*".to_owned()];
    let map = match value {
        Value::Bool(false) | Value::Null => return Ok(None),
        Value::Bool(true) => {
            return Ok(Some(CorsSpec {
                allow_origins: any(),
                allow_methods: any(),
                allow_headers: any(),
                expose_headers: Vec::new(),
                max_age: None,
                allow_credentials: false,
                on_responses: true,
            }));
        }
        Value::Object(map) => map,
        _ => return Err(invalid(at, "must be true or a map")),
    };
    const KEYS: &[&str] = &[
        "AllowOrigins",
        "AllowMethods",
        "AllowHeaders",
        "ExposeHeaders",
        "MaxAge",
        "AllowCredentials",
    ];
    only_keys(map, KEYS, at, "is not a CORS setting")?;
    let list = |key: &str| -> Result<Vec<String>, TemplateError> {
        match map.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    plain_text(item)
                        .ok_or_else(|| invalid(format!("{at}.{key}"), "must be a list of strings"))
                })
                .collect(),
            Some(_) => Err(invalid(format!("{at}.{key}"), "must be a list of strings")),
        }
    };
    let spec = CorsSpec {
        allow_origins: list("AllowOrigins")?,
        allow_methods: upper(list("AllowMethods")?),
        allow_headers: lower(list("AllowHeaders")?),
        expose_headers: list("ExposeHeaders")?,
        max_age: max_age(map.get("MaxAge"), at)?,
        allow_credentials: credentials(map.get("AllowCredentials"), at)?,
        on_responses: true,
    };
    checked(spec, at).map(Some)
}

/// A REST API's `Cors`: an origin (`"'https://shop.example'"`, quoted as API
/// Gateway's header mappings are), or a map of `AllowOrigin`, `AllowMethods`,
/// `AllowHeaders` (comma-separated, quoted), `MaxAge` and `AllowCredentials`.
pub(super) fn rest_api(value: &Value, at: &str) -> Result<Option<CorsSpec>, TemplateError> {
    let mut spec = CorsSpec {
        allow_origins: Vec::new(),
        allow_methods: vec!["*".to_owned()],
        allow_headers: Vec::new(),
        expose_headers: Vec::new(),
        max_age: None,
        allow_credentials: false,
        on_responses: false,
    };
    match value {
        Value::Null => return Ok(None),
        Value::String(origin) => spec.allow_origins = vec![unquote(origin)],
        Value::Object(map) => {
            const KEYS: &[&str] = &[
                "AllowOrigin",
                "AllowMethods",
                "AllowHeaders",
                "MaxAge",
                "AllowCredentials",
            ];
            only_keys(map, KEYS, at, "is not a CORS setting")?;
            let text = |key: &str| -> Result<Option<String>, TemplateError> {
                map.get(key)
                    .map(|v| {
                        plain_text(v)
                            .map(|s| unquote(&s))
                            .ok_or_else(|| invalid(format!("{at}.{key}"), "must be a string"))
                    })
                    .transpose()
            };
            let origin = text("AllowOrigin")?.ok_or_else(|| invalid(at, "needs AllowOrigin"))?;
            spec.allow_origins = vec![origin];
            if let Some(methods) = text("AllowMethods")? {
                spec.allow_methods = upper(split(&methods));
            }
            if let Some(headers) = text("AllowHeaders")? {
                spec.allow_headers = lower(split(&headers));
            }
            let seconds = map.get("MaxAge").map(|v| match v {
                Value::String(s) => Value::String(unquote(s)),
                other => other.clone(),
            });
            spec.max_age = max_age(seconds.as_ref(), at)?;
            spec.allow_credentials = credentials(map.get("AllowCredentials"), at)?;
        }
        _ => return Err(invalid(at, "must be an origin or a map")),
    }
    checked(spec, at).map(Some)
}

/// Browsers refuse `*` with credentials; API Gateway refuses to deploy it.
fn checked(spec: CorsSpec, at: &str) -> Result<CorsSpec, TemplateError> {
    if spec.allow_credentials && spec.allow_origins.iter().any(|o| o == "*") {
        return Err(invalid(
            at,
            "AllowCredentials cannot go with the origin *: name the origins",
        ));
    }
    Ok(spec)
}

/// A string, number or boolean as text; unlike a `!Join`-able scalar, a list
/// is not text here (a list where one value belongs is an error).
fn plain_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn unquote(text: &str) -> String {
    let text = text.trim();
    text.strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .unwrap_or(text)
        .to_owned()
}

fn split(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn upper(items: Vec<String>) -> Vec<String> {
    items.into_iter().map(|s| s.to_ascii_uppercase()).collect()
}

fn lower(items: Vec<String>) -> Vec<String> {
    items.into_iter().map(|s| s.to_ascii_lowercase()).collect()
}

fn max_age(value: Option<&Value>, at: &str) -> Result<Option<u64>, TemplateError> {
    value
        .map(|v| {
            plain_text(v)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| invalid(format!("{at}.MaxAge"), "must be a whole number of seconds"))
        })
        .transpose()
}

fn credentials(value: Option<&Value>, at: &str) -> Result<bool, TemplateError> {
    match value {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => match plain_text(v).as_deref() {
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            _ => Err(invalid(
                format!("{at}.AllowCredentials"),
                "must be true or false",
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_http_apis_configuration_is_read_whole() {
        let spec = http_api(
            &json!({
                "AllowOrigins": ["https://shop.example"],
                "AllowMethods": ["get", "POST"],
                "AllowHeaders": ["Authorization"],
                "ExposeHeaders": ["X-Request-Id"],
                "MaxAge": 600,
                "AllowCredentials": true,
            }),
            "at",
        )
        .unwrap()
        .unwrap();
        assert_eq!(spec.allow_origins, ["https://shop.example"]);
        assert_eq!(spec.allow_methods, ["GET", "POST"]);
        assert_eq!(spec.allow_headers, ["authorization"]);
        assert_eq!(spec.expose_headers, ["X-Request-Id"]);
        assert_eq!(spec.max_age, Some(600));
        assert!(spec.allow_credentials && spec.on_responses);
        let any = http_api(&json!(true), "at").unwrap().unwrap();
        assert_eq!(any.allow_origins, ["*"]);
        assert_eq!(http_api(&json!(false), "at").unwrap(), None);
    }

    #[test]
    fn a_rest_apis_quoted_settings_are_unquoted() {
        let spec = rest_api(&json!("'*'"), "at").unwrap().unwrap();
        assert_eq!(spec.allow_origins, ["*"]);
        assert!(!spec.on_responses);
        let spec = rest_api(
            &json!({
                "AllowOrigin": "'https://shop.example'",
                "AllowMethods": "'GET, OPTIONS'",
                "AllowHeaders": "'Content-Type,Authorization'",
                "MaxAge": "'300'",
            }),
            "at",
        )
        .unwrap()
        .unwrap();
        assert_eq!(spec.allow_methods, ["GET", "OPTIONS"]);
        assert_eq!(spec.allow_headers, ["content-type", "authorization"]);
        assert_eq!(spec.max_age, Some(300));
    }

    #[test]
    fn settings_a_browser_or_api_gateway_would_refuse_are_refused() {
        for (value, why) in [
            (
                json!({"AllowOrigins": ["*"], "AllowCredentials": true}),
                "AllowCredentials",
            ),
            (json!({"AllowOrigin": ["x"]}), "not a CORS setting"),
            (json!({"MaxAge": "soon"}), "MaxAge"),
            (
                json!({"AllowOrigins": "https://a.example"}),
                "list of strings",
            ),
            (json!(3), "true or a map"),
        ] {
            let e = http_api(&value, "at").unwrap_err().to_string();
            assert!(e.contains(why), "{value}: {e}");
        }
        let e = rest_api(&json!({"AllowMethods": "'GET'"}), "at").unwrap_err();
        assert!(e.to_string().contains("AllowOrigin"), "{e}");
    }
}
