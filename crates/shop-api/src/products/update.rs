//! `PATCH /products/{id}`: an admin edits a product with a JSON merge patch,
//! guarded by `If-Match` so that two editors never overwrite each other.

use lambda_http::{Body, Request, Response};
use shop_domain::validation::Errors;
use shop_domain::{ProductId, ProductPatch, now};
use shop_store::{ProductStore, Updated, UserStore};

use crate::auth::{Tokens, admin};
use crate::error::ApiError;
use crate::http::{finish_request, json, json_body, path_param, serve, with_etag};

/// What an instance keeps: the store and the token keys.
pub use crate::instance::Authenticated as Instance;

/// Answers one invocation with what the instance keeps.
pub async fn respond(instance: &Instance, request: Request) -> Response<Body> {
    handle(&instance.store, &instance.tokens, request).await
}

/// At most this many entity tags are tried from one `If-Match`.
const MAX_TAGS: usize = 16;
/// With `If-Match: *`, a patch that loses this many races to other edits is 412.
const ANY_VERSION_ATTEMPTS: usize = 5;

/// What `If-Match` asks for.
#[derive(Debug, PartialEq, Eq)]
enum Precondition {
    /// `*`: whatever version exists.
    Any,
    /// The versions named by the listed strong tags (`"3"`). Weak tags and tags
    /// this API never issued match nothing, as strong comparison demands.
    Versions(Vec<u64>),
}

/// Reads `If-Match`: missing → 428, not a list of entity tags → 400.
fn precondition(request: &Request) -> Result<Precondition, ApiError> {
    let values: Vec<_> = request
        .headers()
        .get_all(http::header::IF_MATCH)
        .iter()
        .collect();
    if values.is_empty() {
        return Err(ApiError::PreconditionRequired);
    }
    let mut errors = Errors::default();
    let mut versions = Vec::new();
    let mut tags = 0;
    for value in values {
        let Ok(text) = value.to_str() else {
            errors.push("If-Match", "must be \"*\" or a list of entity tags");
            continue;
        };
        for tag in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            tags += 1;
            if tag == "*" {
                return Ok(Precondition::Any);
            }
            let weak = tag.starts_with("W/");
            let quoted = tag.trim_start_matches("W/");
            let Some(opaque) = quoted
                .strip_prefix('"')
                .and_then(|rest| rest.strip_suffix('"'))
                .filter(|o| !o.contains('"'))
            else {
                errors.push("If-Match", "must be \"*\" or a list of entity tags");
                continue;
            };
            // Strong comparison is of the exact characters: `"+3"` or `"03"` is
            // not the tag `"3"` this API issues.
            let version = opaque
                .parse::<u64>()
                .ok()
                .filter(|v| v.to_string() == opaque);
            if let (false, Some(version)) = (weak, version) {
                versions.push(version);
            }
        }
    }
    if tags == 0 {
        errors.push("If-Match", "must be \"*\" or a list of entity tags");
    } else if tags > MAX_TAGS {
        errors.push(
            "If-Match",
            format!("may name at most {MAX_TAGS} entity tags"),
        );
    }
    finish_request(errors)?;
    versions.dedup();
    Ok(Precondition::Versions(versions))
}

/// Applies the patch at one of the versions the client named, each tried in one
/// conditional write.
async fn patch_named_versions(
    store: &impl ProductStore,
    id: ProductId,
    versions: &[u64],
    patch: &ProductPatch,
) -> Result<shop_domain::Product, ApiError> {
    for &version in versions {
        match store.update_product(id, version, patch, now()).await? {
            Updated::Done(product) => return Ok(product),
            Updated::Stale => {}
            Updated::Missing => return Err(ApiError::NotFound),
        }
    }
    // Nothing named the current version; still, a deleted product is a 404.
    match store.get_product(id).await? {
        Some(_) => Err(ApiError::PreconditionFailed),
        None => Err(ApiError::NotFound),
    }
}

/// `If-Match: *`: the version there now, read and then required by the write,
/// so a concurrent edit in between is retried rather than overwritten.
async fn patch_any_version(
    store: &impl ProductStore,
    id: ProductId,
    patch: &ProductPatch,
) -> Result<shop_domain::Product, ApiError> {
    for _ in 0..ANY_VERSION_ATTEMPTS {
        let current = store.get_product(id).await?.ok_or(ApiError::NotFound)?;
        match store
            .update_product(id, current.version, patch, now())
            .await?
        {
            Updated::Done(product) => return Ok(product),
            Updated::Stale => {}
            Updated::Missing => return Err(ApiError::NotFound),
        }
    }
    Err(ApiError::PreconditionFailed)
}

/// The handler, over any store: the function passes MongoDB, the tests also
/// the in-memory store.
pub async fn handle(
    store: &(impl ProductStore + UserStore),
    tokens: &Tokens,
    request: Request,
) -> Response<Body> {
    serve(request, |request| async move {
        admin(tokens, store, &request).await?;
        let id = ProductId::parse(&path_param(&request, "id")).map_err(|_| ApiError::NotFound)?;
        let precondition = precondition(&request)?;
        let patch = ProductPatch::parse(json_body(&request)?)?;
        let product = match precondition {
            Precondition::Any => patch_any_version(store, id, &patch).await?,
            Precondition::Versions(versions) => {
                patch_named_versions(store, id, &versions, &patch).await?
            }
        };
        tracing::info!(product_id = %product.id, version = product.version, "product updated");
        with_etag(json(200, &product)?, &product)
    })
    .await
}

#[cfg(test)]
mod precondition_tests {
    use super::*;

    fn with_if_match(values: &[&str]) -> Request {
        let mut builder = http::Request::builder().method("PATCH").uri("/products/x");
        for value in values {
            builder = builder.header("if-match", *value);
        }
        builder.body(Body::Empty).unwrap()
    }

    #[test]
    fn if_match_is_read_as_rfc_9110_says() {
        let read = |values: &[&str]| precondition(&with_if_match(values));
        assert!(matches!(read(&[]), Err(ApiError::PreconditionRequired)));
        assert_eq!(read(&["*"]).unwrap(), Precondition::Any);
        assert_eq!(read(&["\"3\""]).unwrap(), Precondition::Versions(vec![3]));
        assert_eq!(
            read(&["\"3\", \"4\"", "\"9\""]).unwrap(),
            Precondition::Versions(vec![3, 4, 9])
        );
        // Weak tags and tags this API never issued match nothing.
        assert_eq!(
            read(&["W/\"3\", \"abc\", \"-1\", \"+3\", \"03\""]).unwrap(),
            Precondition::Versions(vec![])
        );
        for bad in ["3", "\"3", "", " , ", "\"a\"b\""] {
            assert!(
                matches!(read(&[bad]), Err(ApiError::InvalidRequest(_))),
                "{bad:?}"
            );
        }
        let many = vec!["\"1\""; MAX_TAGS + 1].join(",");
        assert!(matches!(read(&[&many]), Err(ApiError::InvalidRequest(_))));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::testing::{ShopApp, Stores as Store};

    crate::on_both_stores!(
        update_needs_an_admin_and_if_match,
        update_applies_a_merge_patch_and_moves_the_etag,
        update_refuses_a_stale_etag_and_loses_no_edit,
        update_validates_every_field_and_refuses_server_fields,
        update_of_stock_alone_keeps_the_etag,
        update_of_an_unknown_or_archived_product_is_404,
    );

    async fn update_needs_an_admin_and_if_match<S: Store>(app: &ShopApp<'_, S>) {
        let admin = app.user_token("admin", true).await;
        let customer = app.user_token("cust", false).await;
        let created = app.create_product(&admin, "Pen", "1.00", "office").await;
        let id = created.body["id"].as_str().unwrap();
        let etag = created.header("etag").unwrap().to_string();
        let path = format!("/products/{id}");
        let body = json!({"price": 2});
        let anonymous = app.patch(&path, None, Some(&etag), &body).await;
        assert_eq!(anonymous.status, 401);
        let forbidden = app.patch(&path, Some(&customer), Some(&etag), &body).await;
        assert_eq!(forbidden.status, 403);
        let unconditional = app.patch(&path, Some(&admin), None, &body).await;
        assert_eq!(unconditional.status, 428, "{}", unconditional.text);
        assert_eq!(
            unconditional.body["type"],
            "https://shop.invalid/problems/precondition-required"
        );
        let unchanged = app.get(&path, None).await;
        assert!(
            unchanged.text.contains(r#""price":1.00"#),
            "{}",
            unchanged.text
        );
    }

    async fn update_applies_a_merge_patch_and_moves_the_etag<S: Store>(app: &ShopApp<'_, S>) {
        let admin = app.user_token("admin", true).await;
        let created = app.create_product(&admin, "Pen", "1.00", "office").await;
        assert_eq!(created.header("etag"), Some("\"1\""));
        assert_eq!(created.body["stock"], json!(null));
        assert_eq!(created.body["updatedAt"], created.body["createdAt"]);
        let id = created.body["id"].as_str().unwrap();
        let path = format!("/products/{id}");
        let patched = app
            .patch(
                &path,
                Some(&admin),
                Some("\"1\""),
                &json!({"price": 2.5, "stock": 7}),
            )
            .await;
        assert_eq!(patched.status, 200, "{}", patched.text);
        assert_eq!(patched.header("etag"), Some("\"2\""));
        assert!(patched.text.contains(r#""price":2.50"#), "{}", patched.text);
        assert_eq!(patched.body["stock"], 7);
        assert_eq!(patched.body["name"], "Pen", "fields not named are kept");
        assert_eq!(patched.body["category"], "office");
        assert_eq!(patched.body["createdAt"], created.body["createdAt"]);
        let time = |value: &serde_json::Value| {
            let rfc3339 = time::format_description::well_known::Rfc3339;
            time::OffsetDateTime::parse(value.as_str().unwrap(), &rfc3339).unwrap()
        };
        assert!(time(&patched.body["updatedAt"]) >= time(&created.body["updatedAt"]));
        let fetched = app.get(&path, None).await;
        assert_eq!(fetched.body, patched.body);
        assert_eq!(fetched.header("etag"), Some("\"2\""));
        // A merge patch sent as such, and null stock stops tracking it.
        let auth = crate::testing::bearer(Some(&admin));
        let headers = [
            ("content-type", "application/merge-patch+json"),
            ("authorization", auth[0].1.as_str()),
            ("if-match", "\"2\""),
        ];
        let untracked = app
            .call(
                "PATCH",
                &path,
                &headers,
                Some(r#"{"stock": null, "name": "Ink pen"}"#),
            )
            .await;
        assert_eq!(untracked.status, 200, "{}", untracked.text);
        assert_eq!(untracked.body["stock"], json!(null));
        assert_eq!(untracked.body["name"], "Ink pen");
        assert_eq!(untracked.header("etag"), Some("\"3\""));
        // `*` matches whatever version is there.
        let any = app
            .patch(
                &path,
                Some(&admin),
                Some("*"),
                &json!({"description": "blue"}),
            )
            .await;
        assert_eq!(any.status, 200, "{}", any.text);
        assert_eq!(any.header("etag"), Some("\"4\""));
    }

    async fn update_refuses_a_stale_etag_and_loses_no_edit<S: Store>(app: &ShopApp<'_, S>) {
        let admin = app.user_token("admin", true).await;
        let created = app.create_product(&admin, "Pen", "1.00", "office").await;
        let path = format!("/products/{}", created.body["id"].as_str().unwrap());
        // Two editors read version 1; the first to write wins, the second is told.
        let (one, two) = (json!({"name": "First"}), json!({"name": "Second"}));
        let (first, second) = tokio::join!(
            app.patch(&path, Some(&admin), Some("\"1\""), &one),
            app.patch(&path, Some(&admin), Some("\"1\""), &two),
        );
        let mut statuses = [first.status, second.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 412], "{} / {}", first.text, second.text);
        let winner = if first.status == 200 { &first } else { &second };
        let stored = app.get(&path, None).await;
        assert_eq!(stored.body["name"], winner.body["name"]);
        let loser = if first.status == 412 { &first } else { &second };
        assert_eq!(
            loser.body["type"],
            "https://shop.invalid/problems/precondition-failed"
        );
        for stale in ["\"1\"", "W/\"2\"", "\"99\", \"1\"", "\"abc\""] {
            let response = app
                .patch(&path, Some(&admin), Some(stale), &json!({"name": "Late"}))
                .await;
            assert_eq!(response.status, 412, "{stale}: {}", response.text);
        }
        let listed = app
            .patch(
                &path,
                Some(&admin),
                Some("\"1\", \"2\""),
                &json!({"name": "Listed"}),
            )
            .await;
        assert_eq!(
            listed.status, 200,
            "a list naming the current version matches"
        );
        let malformed = app
            .patch(&path, Some(&admin), Some("3"), &json!({"name": "Late"}))
            .await;
        assert_eq!(malformed.status, 400, "{}", malformed.text);
        assert_eq!(malformed.error_fields(), ["If-Match"]);
        assert_eq!(app.get(&path, None).await.body["name"], "Listed");
    }

    async fn update_validates_every_field_and_refuses_server_fields<S: Store>(
        app: &ShopApp<'_, S>,
    ) {
        let admin = app.user_token("admin", true).await;
        let created = app.create_product(&admin, "Pen", "1.00", "office").await;
        let path = format!("/products/{}", created.body["id"].as_str().unwrap());
        let cases = [
            (json!({"id": "0123456789abcdef01234567"}), vec!["id"]),
            (
                json!({"createdAt": "2020-01-01T00:00:00Z"}),
                vec!["createdAt"],
            ),
            (
                json!({"colour": "red", "price": 1.001}),
                vec!["colour", "price"],
            ),
            (json!({"name": null}), vec!["name"]),
            (json!({"name": ""}), vec!["name"]),
            (json!({"category": "c".repeat(101)}), vec!["category"]),
            (json!({"description": 5}), vec!["description"]),
            (json!({"stock": -1}), vec!["stock"]),
            (json!({"stock": 1_000_001}), vec!["stock"]),
            (json!({"stock": 2.5}), vec!["stock"]),
            (json!({"stock": "3"}), vec!["stock"]),
            (json!({"price": null}), vec!["price"]),
        ];
        for (body, fields) in cases {
            let response = app.patch(&path, Some(&admin), Some("\"1\""), &body).await;
            assert_eq!(response.status, 400, "{body}: {}", response.text);
            assert_eq!(response.error_fields(), fields, "{body}");
        }
        let auth = crate::testing::bearer(Some(&admin));
        let headers = [
            ("content-type", "application/json"),
            ("authorization", auth[0].1.as_str()),
            ("if-match", "\"1\""),
        ];
        for not_an_object in ["[]", "null", "{", "\"x\""] {
            let response = app
                .call("PATCH", &path, &headers, Some(not_an_object))
                .await;
            assert_eq!(response.status, 400, "{not_an_object}");
        }
        let unchanged = app.get(&path, None).await;
        assert_eq!(unchanged.body, created.body);
        assert_eq!(unchanged.header("etag"), Some("\"1\""));
        let edge = app
            .patch(
                &path,
                Some(&admin),
                Some("\"1\""),
                &json!({"stock": 1_000_000}),
            )
            .await;
        assert_eq!(edge.status, 200, "{}", edge.text);
    }

    async fn update_of_stock_alone_keeps_the_etag<S: Store>(app: &ShopApp<'_, S>) {
        let admin = app.user_token("admin", true).await;
        let created = app.create_product(&admin, "Pen", "1.00", "office").await;
        let path = format!("/products/{}", created.body["id"].as_str().unwrap());
        let counted = app
            .patch(&path, Some(&admin), Some("\"1\""), &json!({"stock": 12}))
            .await;
        assert_eq!(counted.status, 200, "{}", counted.text);
        assert_eq!(counted.body["stock"], 12);
        assert_eq!(
            counted.header("etag"),
            Some("\"1\""),
            "stock is not a catalog field"
        );
        let renamed = app
            .patch(
                &path,
                Some(&admin),
                Some("\"1\""),
                &json!({"name": "Pen 2"}),
            )
            .await;
        assert_eq!(
            renamed.status, 200,
            "an editor's ETag survives a stock count"
        );
        assert_eq!(renamed.body["stock"], 12);
    }

    async fn update_of_an_unknown_or_archived_product_is_404<S: Store>(app: &ShopApp<'_, S>) {
        let admin = app.user_token("admin", true).await;
        let created = app.create_product(&admin, "Pen", "1.00", "office").await;
        let path = format!("/products/{}", created.body["id"].as_str().unwrap());
        assert_eq!(app.delete(&path, Some(&admin)).await.status, 204);
        for (target, tag) in [
            (path.as_str(), "\"1\""),
            (path.as_str(), "*"),
            (path.as_str(), "\"7\""),
            ("/products/0123456789abcdef01234567", "\"1\""),
            ("/products/not-an-id", "\"1\""),
        ] {
            let response = app
                .patch(target, Some(&admin), Some(tag), &json!({"name": "Back"}))
                .await;
            assert_eq!(response.status, 404, "{target} {tag}: {}", response.text);
        }
    }
}
