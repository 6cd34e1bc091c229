//! `GET /products`: a page of products, newest first, filtered by category or ids.

use lambda_http::{Body, Request, Response};
use shop_domain::paging::{MAX_LIMIT, Page};
use shop_domain::validation::Errors;
use shop_domain::{Category, ProductId};
use shop_store::{ProductFilter, ProductStore};

use crate::http::{Query, finish_request, json, serve};

/// At most this many ids in one `?ids=` filter.
pub const MAX_IDS: usize = MAX_LIMIT as usize;

/// What an instance keeps: the store.
pub use crate::instance::Public as Instance;

/// Answers one invocation with what the instance keeps.
pub async fn respond(instance: &Instance, request: Request) -> Response<Body> {
    handle(&instance.store, request).await
}

/// Reads `?ids=a,b,c` (also repeated `ids=`): valid ids, at most [`MAX_IDS`].
fn parse_ids(query: &Query, errors: &mut Errors) -> Option<Vec<ProductId>> {
    let values = query.all("ids")?;
    let mut ids = Vec::new();
    for part in values.iter().flat_map(|v| v.split(',')) {
        match ProductId::parse(part) {
            Ok(id) if ids.contains(&id) => {}
            Ok(_) if ids.len() == MAX_IDS => {
                errors.push("ids", format!("must name at most {MAX_IDS} products"));
                return None;
            }
            Ok(id) => ids.push(id),
            Err(_) => {
                errors.push("ids", format!("'{part}' is not a product id"));
                return None;
            }
        }
    }
    Some(ids)
}

/// The handler, over any store: the function passes MongoDB, the tests also
/// the in-memory store.
pub async fn handle(store: &impl ProductStore, request: Request) -> Response<Body> {
    serve(request, |request| async move {
        let query = Query::of(&request);
        let mut errors = Errors::default();
        query.deny_unknown(&["limit", "cursor", "category", "ids"], &mut errors);
        let page = query.page(&mut errors);
        let category = query.single("category", &mut errors).and_then(|c| {
            Category::parse(c.to_string())
                .map_err(|why| errors.push("category", why))
                .ok()
        });
        let ids = parse_ids(&query, &mut errors);
        finish_request(errors)?;
        let filter = ProductFilter { category, ids };
        let products = store.list_products(&filter, &page).await?;
        json(200, &Page::from_fetched(products, &page, |p| p.id.bytes()))
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use crate::testing::{ShopApp, Stores as Store};

    crate::on_both_stores!(
        list_pages_through_45_products_newest_first_without_gap_or_duplicate,
        list_filters_by_category_and_by_ids,
        list_refuses_bad_query_parameters,
    );

    async fn list_pages_through_45_products_newest_first_without_gap_or_duplicate<S: Store>(
        app: &ShopApp<'_, S>,
    ) {
        let admin = app.user_token("admin", true).await;
        let mut created = Vec::new();
        for i in 0..45 {
            let response = app
                .create_product(&admin, &format!("p{i}"), "1", "misc")
                .await;
            created.push(response.body["id"].as_str().unwrap().to_string());
        }
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let target = match &cursor {
                Some(c) => format!("/products?limit=10&cursor={c}"),
                None => "/products?limit=10".to_string(),
            };
            let page = app.get(&target, None).await;
            assert_eq!(page.status, 200, "{}", page.text);
            pages += 1;
            let items = page.body["items"].as_array().unwrap();
            seen.extend(items.iter().map(|p| p["id"].as_str().unwrap().to_string()));
            match page.body["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => {
                    assert!(page.body["nextCursor"].is_null());
                    break;
                }
            }
        }
        assert_eq!(pages, 5);
        let newest_first: Vec<String> = created.iter().rev().cloned().collect();
        assert_eq!(seen, newest_first);
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 45);
        let default_page = app.get("/products", None).await;
        assert_eq!(default_page.body["items"].as_array().unwrap().len(), 20);
    }

    async fn list_filters_by_category_and_by_ids<S: Store>(app: &ShopApp<'_, S>) {
        let admin = app.user_token("admin", true).await;
        let mut ids = Vec::new();
        for (name, category) in [
            ("a", "books"),
            ("b", "toys"),
            ("c", "books"),
            ("d", "Books"),
        ] {
            let response = app.create_product(&admin, name, "2.50", category).await;
            ids.push(response.body["id"].as_str().unwrap().to_string());
        }
        let names = |response: &crate::testing::TestResponse| -> Vec<String> {
            response.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            names(&app.get("/products?category=books", None).await),
            ["c", "a"]
        );
        assert_eq!(
            names(&app.get("/products?category=Books", None).await),
            ["d"]
        );
        assert!(names(&app.get("/products?category=none", None).await).is_empty());

        let unknown = "0123456789abcdef01234567";
        let target = format!("/products?ids={},{},{unknown}", ids[0], ids[1]);
        assert_eq!(names(&app.get(&target, None).await), ["b", "a"]);
        let repeated = format!("/products?ids={}&ids={}", ids[2], ids[3]);
        assert_eq!(names(&app.get(&repeated, None).await), ["d", "c"]);
        let both = format!("/products?ids={},{}&category=books", ids[0], ids[1]);
        assert_eq!(names(&app.get(&both, None).await), ["a"]);

        let hundred: Vec<String> = (0..100).map(|i| format!("{i:024x}")).collect();
        let at_limit = app
            .get(&format!("/products?ids={}", hundred.join(",")), None)
            .await;
        assert_eq!(at_limit.status, 200);
        let over: Vec<String> = (0..101).map(|i| format!("{i:024x}")).collect();
        let over_limit = app
            .get(&format!("/products?ids={}", over.join(",")), None)
            .await;
        assert_eq!(over_limit.status, 400);
        assert_eq!(over_limit.error_fields(), ["ids"]);
        let malformed = app
            .get(&format!("/products?ids={},nope", ids[0]), None)
            .await;
        assert_eq!(malformed.status, 400);
        assert_eq!(malformed.error_fields(), ["ids"]);
    }

    async fn list_refuses_bad_query_parameters<S: Store>(app: &ShopApp<'_, S>) {
        for (query, fields) in [
            ("limit=0", vec!["limit"]),
            ("limit=101", vec!["limit"]),
            ("limit=ten", vec!["limit"]),
            ("cursor=garbage", vec!["cursor"]),
            ("category=", vec!["category"]),
            ("colour=red", vec!["colour"]),
            ("limit=0&cursor=x", vec!["limit", "cursor"]),
        ] {
            let response = app.get(&format!("/products?{query}"), None).await;
            assert_eq!(response.status, 400, "{query}");
            assert_eq!(response.error_fields(), fields, "{query}");
        }
        assert_eq!(app.get("/products?limit=100", None).await.status, 200);
    }
}
