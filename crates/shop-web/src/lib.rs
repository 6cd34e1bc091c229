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
    /// The gzipped twin's: the same with `-gz` (another encoding is another
    /// representation, with a tag of its own).
    pub gzip_etag: &'static str,
    pub body: &'static [u8],
    pub gzip: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The storefront's policy: scripts, styles, images and API calls from this
/// origin only; no plugins, no `<base>`, and no framing.
const STOREFRONT_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// The reference's: the same, but Swagger UI sets style attributes, so inline
/// styles are allowed there (and only there).
const DOCS_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `GET /docs` and its files, `GET /openapi.json`, `GET /openapi.yaml`.
pub async fn docs(_: &'static (), request: Request) -> Response<Body> {
    serve(request, |request| async move {
        answer(DOCS, DOCS_POLICY, &request)
    })
    .await
}

/// `GET /` and the storefront's files under `/shop/`.
pub async fn storefront(_: &'static (), request: Request) -> Response<Body> {
    serve(request, |request| async move {
        answer(STOREFRONT, STOREFRONT_POLICY, &request)
    })
    .await
}

/// The asset served at `path`, if any.
pub fn find(table: &'static [Asset], path: &str) -> Option<&'static Asset> {
    table.iter().find(|asset| asset.path == path)
}

/// The items of a comma-separated list header, over all its lines.
fn list_items(request: &Request, name: header::HeaderName) -> impl Iterator<Item = &str> {
    request
        .headers()
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
}

/// Whether `If-None-Match` names either version of `asset` (or is `*`): the
/// weak comparison conditional GETs use; both encodings carry the same bytes.
fn not_modified(request: &Request, asset: &Asset) -> bool {
    list_items(request, header::IF_NONE_MATCH)
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == asset.etag || tag == asset.gzip_etag || tag == "*")
}

/// Whether the client takes gzip (`Accept-Encoding`, without `q=0`).
fn takes_gzip(request: &Request) -> bool {
    list_items(request, header::ACCEPT_ENCODING).any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or("");
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q == 0.0))
        });
        (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
    })
}

fn answer(
    table: &'static [Asset],
    policy: &'static str,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let asset = find(table, request.uri().path()).ok_or(ApiError::NotFound)?;
    let gzip = takes_gzip(request) && asset.gzip.len() < asset.body.len();
    let etag = if gzip { asset.gzip_etag } else { asset.etag };
    let mut response = if not_modified(request, asset) {
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
    headers.insert(header::ETAG, HeaderValue::from_static(etag));
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
            HeaderValue::from_static(policy),
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
        let plain = answer(DOCS, DOCS_POLICY, &get("/docs/swagger-ui-bundle.js", &[])).unwrap();
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
            DOCS_POLICY,
            &get(
                "/docs/swagger-ui-bundle.js",
                &[("accept-encoding", "br, gzip")],
            ),
        )
        .unwrap();
        assert_eq!(zipped.headers()["content-encoding"], "gzip");
        assert!(body(&zipped).len() < asset.body.len() / 2);
        assert_eq!(zipped.headers()["etag"], asset.gzip_etag);
        assert_ne!(asset.gzip_etag, asset.etag);
        let refused = answer(
            DOCS,
            DOCS_POLICY,
            &get("/docs/init.js", &[("accept-encoding", "gzip;q=0")]),
        )
        .unwrap();
        assert!(refused.headers().get("content-encoding").is_none());

        let page = answer(STOREFRONT, STOREFRONT_POLICY, &get("/", &[])).unwrap();
        let policy = page.headers()["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"));
        // Only Swagger UI needs inline styles.
        assert!(policy.contains("style-src 'self';") && !policy.contains("unsafe-inline"));
        let docs = answer(DOCS, DOCS_POLICY, &get("/docs", &[])).unwrap();
        assert!(
            docs.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("'unsafe-inline'")
        );
        assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    }

    #[test]
    fn a_known_version_is_not_sent_again() {
        let etag = find(STOREFRONT, "/shop/app.js").unwrap().etag;
        let again = answer(
            STOREFRONT,
            STOREFRONT_POLICY,
            &get(
                "/shop/app.js",
                &[("if-none-match", &format!("\"x\", {etag}"))],
            ),
        )
        .unwrap();
        assert_eq!(again.status(), 304);
        assert!(body(&again).is_empty());
        assert_eq!(again.headers()["etag"], etag);
        // The gzipped twin's tag names the same bytes.
        let asset = find(STOREFRONT, "/shop/app.js").unwrap();
        let zipped = answer(
            STOREFRONT,
            STOREFRONT_POLICY,
            &get(
                "/shop/app.js",
                &[
                    ("if-none-match", asset.gzip_etag),
                    ("accept-encoding", "gzip"),
                ],
            ),
        )
        .unwrap();
        assert_eq!(zipped.status(), 304);
        assert_eq!(zipped.headers()["etag"], asset.gzip_etag);
        let stale = answer(
            STOREFRONT,
            STOREFRONT_POLICY,
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
                matches!(
                    answer(DOCS, DOCS_POLICY, &get(path, &[])),
                    Err(ApiError::NotFound)
                ),
                "{path}"
            );
            assert!(
                matches!(
                    answer(STOREFRONT, STOREFRONT_POLICY, &get(path, &[])),
                    Err(ApiError::NotFound)
                ),
                "{path}"
            );
        }
        // Each function serves its own pages only.
        assert!(answer(STOREFRONT, STOREFRONT_POLICY, &get("/docs", &[])).is_err());
        assert!(answer(DOCS, DOCS_POLICY, &get("/", &[])).is_err());
    }
}
