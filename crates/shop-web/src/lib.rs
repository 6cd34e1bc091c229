//! The shop's pages for people, served by two small functions from files
//! built into them (see `build.rs`): the interactive API reference at `/docs`
//! with the spec at `/openapi.json` and `/openapi.yaml`, and the storefront
//! at `/`. Each answer carries a strong ETag (a conditional request gets 304),
//! is gzipped for clients that accept it, and is locked down by a content
//! security policy: scripts and styles from this origin only.

use http::header::{self, HeaderValue};
use lambda_http::{Body, Request, Response};
use shop_api::ApiError;
use shop_api::http::serve;

/// One file and where it is served.
#[derive(Debug)]
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    /// A strong entity tag, quoted: a digest of the bytes.
    pub etag: &'static str,
    pub body: &'static [u8],
    pub gzip: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The pages' policy: everything from this origin; inline styles only
/// because Swagger UI sets style attributes; images also as `data:` URLs
/// (its icons). No page may be framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `GET /docs` and its files, `GET /openapi.json`, `GET /openapi.yaml`.
pub async fn docs(_: &'static (), request: Request) -> Response<Body> {
    serve(request, |request| async move { answer(DOCS, &request) }).await
}

/// `GET /` and the storefront's files under `/shop/`.
pub async fn storefront(_: &'static (), request: Request) -> Response<Body> {
    serve(
        request,
        |request| async move { answer(STOREFRONT, &request) },
    )
    .await
}

/// The asset served at `path`, if any.
pub fn find(table: &'static [Asset], path: &str) -> Option<&'static Asset> {
    table.iter().find(|asset| asset.path == path)
}

/// Whether `If-None-Match` names `etag` (or is `*`).
fn not_modified(request: &Request, etag: &str) -> bool {
    request
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

/// Whether the client takes gzip (`Accept-Encoding`, without `q=0`).
fn takes_gzip(request: &Request) -> bool {
    request
        .headers()
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q == 0.0))
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

fn answer(table: &'static [Asset], request: &Request) -> Result<Response<Body>, ApiError> {
    let asset = find(table, request.uri().path()).ok_or(ApiError::NotFound)?;
    let gzip = takes_gzip(request) && asset.gzip.len() < asset.body.len();
    let mut response = if not_modified(request, asset.etag) {
        Response::builder().status(304).body(Body::Empty)
    } else {
        let bytes = if gzip { asset.gzip } else { asset.body };
        let mut builder = Response::builder()
            .status(200)
            .header(header::CONTENT_TYPE, asset.content_type);
        if gzip {
            builder = builder.header(header::CONTENT_ENCODING, "gzip");
        }
        builder.body(Body::Binary(bytes.to_vec()))
    }
    .map_err(|_| ApiError::Internal)?;
    let headers = response.headers_mut();
    headers.insert(header::ETAG, HeaderValue::from_static(asset.etag));
    // Always revalidated: a new build is seen at once, and an unchanged file costs a 304.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if asset.content_type.starts_with("text/html") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, headers: &[(&str, &str)]) -> Request {
        let mut request = http::Request::builder().method("GET").uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(Body::Empty).unwrap()
    }

    fn body(response: &Response<Body>) -> &[u8] {
        match response.body() {
            Body::Binary(bytes) => bytes,
            Body::Text(text) => text.as_bytes(),
            Body::Empty => &[],
            _ => unreachable!(),
        }
    }

    #[test]
    fn every_page_a_page_names_is_served() {
        let docs = std::str::from_utf8(find(DOCS, "/docs").unwrap().body).unwrap();
        for linked in [
            "/docs/swagger-ui.css",
            "/docs/docs.css",
            "/docs/swagger-ui-bundle.js",
            "/docs/init.js",
            "/openapi.json",
            "/openapi.yaml",
        ] {
            assert!(docs.contains(linked), "{linked}");
            assert!(find(DOCS, linked).is_some(), "{linked}");
        }
        let shop = std::str::from_utf8(find(STOREFRONT, "/").unwrap().body).unwrap();
        for linked in ["shop/app.js", "shop/style.css"] {
            assert!(shop.contains(&format!("\"{linked}\"")), "{linked}");
            assert!(
                find(STOREFRONT, &format!("/{linked}")).is_some(),
                "{linked}"
            );
        }
        // The spec is the repository's, as JSON too.
        let spec: serde_json::Value =
            serde_json::from_slice(find(DOCS, "/openapi.json").unwrap().body).unwrap();
        assert!(spec["paths"]["/orders"].is_object());
    }

    #[test]
    fn answers_carry_type_etag_policy_and_gzip_when_taken() {
        let plain = answer(DOCS, &get("/docs/swagger-ui-bundle.js", &[])).unwrap();
        assert_eq!(plain.status(), 200);
        assert_eq!(
            plain.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
        assert!(plain.headers().get("content-encoding").is_none());
        let asset = find(DOCS, "/docs/swagger-ui-bundle.js").unwrap();
        assert_eq!(body(&plain), asset.body);
        assert_eq!(plain.headers()["etag"], asset.etag);

        let zipped = answer(
            DOCS,
            &get(
                "/docs/swagger-ui-bundle.js",
                &[("accept-encoding", "br, gzip")],
            ),
        )
        .unwrap();
        assert_eq!(zipped.headers()["content-encoding"], "gzip");
        assert!(body(&zipped).len() < asset.body.len() / 2);
        let refused = answer(
            DOCS,
            &get("/docs/init.js", &[("accept-encoding", "gzip;q=0")]),
        )
        .unwrap();
        assert!(refused.headers().get("content-encoding").is_none());

        let page = answer(STOREFRONT, &get("/", &[])).unwrap();
        let policy = page.headers()["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"));
        assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    }

    #[test]
    fn a_known_version_is_not_sent_again() {
        let etag = find(STOREFRONT, "/shop/app.js").unwrap().etag;
        let again = answer(
            STOREFRONT,
            &get(
                "/shop/app.js",
                &[("if-none-match", &format!("\"x\", {etag}"))],
            ),
        )
        .unwrap();
        assert_eq!(again.status(), 304);
        assert!(body(&again).is_empty());
        assert_eq!(again.headers()["etag"], etag);
        let stale = answer(
            STOREFRONT,
            &get("/shop/app.js", &[("if-none-match", "\"old\"")]),
        )
        .unwrap();
        assert_eq!(stale.status(), 200);
    }

    #[test]
    fn only_the_built_files_are_served() {
        for path in [
            "/docs/../Cargo.toml",
            "/shop/",
            "/shop/app.js/",
            "/docs/swagger-ui-bundle.js.map",
            "/shop/%61pp.js",
            "/openapi.yml",
        ] {
            assert!(
                matches!(answer(DOCS, &get(path, &[])), Err(ApiError::NotFound)),
                "{path}"
            );
            assert!(
                matches!(answer(STOREFRONT, &get(path, &[])), Err(ApiError::NotFound)),
                "{path}"
            );
        }
        // Each function serves its own pages only.
        assert!(answer(STOREFRONT, &get("/docs", &[])).is_err());
        assert!(answer(DOCS, &get("/", &[])).is_err());
    }
}
