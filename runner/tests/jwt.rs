//! A JWT authorizer end to end: a test issuer on loopback serves OpenID
//! discovery and a JWKS of RSA keys made here with `openssl`; tokens signed
//! here go through the runner. Real processes, real HTTP.

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use common::Runner;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An RSA key made by `openssl`: its PEM and its public JWK.
struct Key {
    pem: Vec<u8>,
    jwk: Value,
}

fn rsa_key(kid: &str) -> Key {
    let made = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("openssl runs");
    assert!(made.status.success(), "{made:?}");
    let mut modulus = Command::new("openssl")
        .args(["rsa", "-noout", "-modulus"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl runs");
    modulus
        .stdin
        .take()
        .unwrap()
        .write_all(&made.stdout)
        .unwrap();
    let modulus = modulus.wait_with_output().unwrap();
    let hex = String::from_utf8(modulus.stdout).unwrap();
    let hex = hex.trim().trim_start_matches("Modulus=");
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    Key {
        pem: made.stdout,
        jwk: json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": "AQAB"}),
    }
}

/// Serves `/.well-known/openid-configuration` and `/jwks` on loopback; returns
/// the issuer URL.
async fn issuer(keys: Vec<Value>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let jwks = json!({"keys": keys}).to_string();
    let discovery = json!({"issuer": base, "jwks_uri": format!("{base}/jwks")}).to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let (jwks, discovery) = (jwks.clone(), discovery.clone());
            tokio::spawn(async move {
                let mut head = vec![0u8; 4096];
                let read = stream.read(&mut head).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&head[..read]);
                let body = if head.starts_with("GET /jwks ") {
                    jwks
                } else if head.starts_with("GET /.well-known/openid-configuration ") {
                    discovery
                } else {
                    String::new()
                };
                let status = if body.is_empty() {
                    "404 Not Found"
                } else {
                    "200 OK"
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    base
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn sign(key: &Key, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    let key = EncodingKey::from_rsa_pem(&key.pem).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

async fn get(runner: &Runner, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = runner.client.get(runner.url(path));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.send().await.unwrap()
}

/// A runner whose API trusts a test issuer with the key `good`; `other` is a
/// key the issuer does not publish.
struct Setup {
    runner: Runner,
    base: String,
    good: Key,
    other: Key,
}

async fn setup() -> Setup {
    let (good, other) = (rsa_key("good"), rsa_key("other"));
    let base = issuer(vec![good.jwk.clone()]).await;
    let runner = Runner::start(
        "auth.yaml",
        &["--parameter-overrides", &format!("Issuer={base}")],
    );
    Setup {
        runner,
        base,
        good,
        other,
    }
}

impl Setup {
    /// Valid claims, with `changes` made.
    fn claims(&self, changes: Value) -> Value {
        let mut claims = json!({
            "iss": self.base, "aud": "shop", "sub": "user-1", "exp": now() + 600,
            "scope": "orders/read profile", "groups": ["a", "b"],
        });
        for (k, v) in changes.as_object().unwrap() {
            claims[k] = v.clone();
        }
        claims
    }

    fn valid(&self) -> String {
        sign(&self.good, "good", &self.claims(json!({})))
    }
}

#[tokio::test]
async fn a_valid_tokens_claims_reach_the_function_as_text() {
    let setup = setup().await;
    let runner = &setup.runner;
    let valid = setup.valid();
    let answer = get(runner, "/private", Some(&valid)).await;
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    let jwt = &body["event"]["requestContext"]["authorizer"]["jwt"];
    assert_eq!(jwt["claims"]["sub"], "user-1");
    let exp = jwt["claims"]["exp"]
        .as_str()
        .expect("a number claim as text");
    assert!(exp.parse::<u64>().unwrap() > now());
    assert_eq!(jwt["claims"]["groups"], "[a b]");
    assert_eq!(jwt["scopes"], Value::Null);
    // The token without `Bearer ` works too.
    let bare = runner
        .client
        .get(runner.url("/private"))
        .header("authorization", &valid)
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 200);
    // `client_id` stands for `aud`.
    let client = sign(
        &setup.good,
        "good",
        &setup.claims(json!({"aud": null, "client_id": "shop"})),
    );
    assert_eq!(get(runner, "/private", Some(&client)).await.status(), 200);
    // An audience list need only hold one of the API's.
    let listed = sign(
        &setup.good,
        "good",
        &setup.claims(json!({"aud": ["other", "shop"]})),
    );
    assert_eq!(get(runner, "/private", Some(&listed)).await.status(), 200);
}

#[tokio::test]
async fn tokens_api_gateway_would_refuse_get_401() {
    let setup = setup().await;
    let (good, other) = (&setup.good, &setup.other);
    let claims = |changes: Value| setup.claims(changes);
    let encode = |text: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
    let none_alg = format!(
        "{}.{}.",
        encode(r#"{"alg":"none","kid":"good"}"#.to_owned()),
        encode(claims(json!({})).to_string()),
    );
    let hmac = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("good".into());
        let key = EncodingKey::from_secret(good.jwk["n"].as_str().unwrap().as_bytes());
        jsonwebtoken::encode(&header, &claims(json!({})), &key).unwrap()
    };
    let refused = [
        ("no token", None),
        ("garbage", Some("not.a.token".to_owned())),
        ("wrong key", Some(sign(other, "good", &claims(json!({}))))),
        (
            "unknown kid",
            Some(sign(other, "other", &claims(json!({})))),
        ),
        (
            "expired",
            Some(sign(good, "good", &claims(json!({"exp": now() - 3600})))),
        ),
        (
            "not yet valid",
            Some(sign(good, "good", &claims(json!({"nbf": now() + 3600})))),
        ),
        (
            "wrong audience",
            Some(sign(good, "good", &claims(json!({"aud": "other"})))),
        ),
        (
            "wrong issuer",
            Some(sign(
                good,
                "good",
                &claims(json!({"iss": "https://evil.example"})),
            )),
        ),
        ("alg none", Some(none_alg)),
        (
            "no issuer",
            Some(sign(good, "good", &claims(json!({"iss": null})))),
        ),
        (
            "issuer in a list",
            Some(sign(good, "good", &claims(json!({"iss": [setup.base]})))),
        ),
        (
            "aud elsewhere, client_id here",
            Some(sign(
                good,
                "good",
                &claims(json!({"aud": "other", "client_id": "shop"})),
            )),
        ),
        ("HMAC", Some(hmac)),
    ];
    for (case, token) in refused {
        let answer = get(&setup.runner, "/private", token.as_deref()).await;
        assert_eq!(answer.status(), 401, "{case}");
        assert_eq!(answer.headers()["www-authenticate"], "Bearer", "{case}");
        let body = common::problem(answer, 401).await;
        assert!(
            body["type"].as_str().unwrap().ends_with("unauthorized"),
            "{case}: {body}"
        );
    }
}

#[tokio::test]
async fn scopes_none_and_preflights_are_honoured() {
    let setup = setup().await;
    let runner = &setup.runner;
    // One of the route's scopes is enough; none is 403.
    let answer = get(runner, "/orders", Some(&setup.valid())).await;
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(
        body["event"]["requestContext"]["authorizer"]["jwt"]["scopes"],
        json!(["orders/read", "profile"])
    );
    let unscoped = sign(
        &setup.good,
        "good",
        &setup.claims(json!({"scope": "profile"})),
    );
    let answer = get(runner, "/orders", Some(&unscoped)).await;
    common::problem(answer, 403).await;

    // `Authorizer: NONE`, and a preflight, need no token.
    assert_eq!(get(runner, "/public", None).await.status(), 200);
    let preflight = runner
        .client
        .request(reqwest::Method::OPTIONS, runner.url("/private"))
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
}
