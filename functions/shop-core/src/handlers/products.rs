//! `POST /products` (admin), `GET /products` and `GET /products/{id}` (public).

use lambda_http::{Body, Request, Response};

use crate::auth::{Tokens, caller};
use crate::domain::{Category, Description, Product, ProductId, ProductName, now};
use crate::error::ApiError;
use crate::http::{Query, created, json, json_body, path_param, serve};
use crate::money::Money;
use crate::paging::{MAX_LIMIT, Page, PageParams};
use crate::store::{ProductFilter, ProductStore, UserStore};
use crate::validation::{Errors, Object, string};

/// At most this many ids in one `?ids=` filter.
pub const MAX_IDS: usize = MAX_LIMIT as usize;

fn parse_new_product(body: &str) -> Result<Product, ApiError> {
    let object = Object::parse_body(body)?;
    let mut errors = Errors::default();
    object.deny_unknown(&["name", "description", "price", "category"], &mut errors);
    let name = object.required("name", &mut errors, string(ProductName::parse));
    let description = object.required("description", &mut errors, string(Description::parse));
    let price = object.required("price", &mut errors, Money::from_json);
    let category = object.required("category", &mut errors, string(Category::parse));
    errors.finish()?;
    match (name, description, price, category) {
        (Some(name), Some(description), Some(price), Some(category)) => Ok(Product {
            id: ProductId::new(),
            name,
            description,
            price,
            category,
            created_at: now(),
        }),
        _ => Err(ApiError::Internal),
    }
}

pub async fn create(
    store: &(impl ProductStore + UserStore),
    tokens: &Tokens,
    request: Request,
) -> Response<Body> {
    serve(request, |request| async move {
        let principal = caller(tokens, store, &request).await?;
        if !principal.is_admin() {
            return Err(ApiError::Forbidden);
        }
        let product = parse_new_product(json_body(&request)?)?;
        store.insert_product(&product).await?;
        tracing::info!(product_id = %product.id, "product created");
        created(&format!("/products/{}", product.id), &product)
    })
    .await
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

pub async fn list(store: &impl ProductStore, request: Request) -> Response<Body> {
    serve(request, |request| async move {
        let query = Query::of(&request);
        let mut errors = Errors::default();
        query.deny_unknown(&["limit", "cursor", "category", "ids"], &mut errors);
        let page = PageParams::from_query(&query, &mut errors);
        let category = query.single("category", &mut errors).and_then(|c| {
            Category::parse(c.to_string())
                .map_err(|why| errors.push("category", why))
                .ok()
        });
        let ids = parse_ids(&query, &mut errors);
        errors.finish_request()?;
        let filter = ProductFilter { category, ids };
        let products = store.list_products(&filter, &page).await?;
        json(
            200,
            &Page::from_fetched(products, &page, |p| p.id.object_id()),
        )
    })
    .await
}

pub async fn get(store: &impl ProductStore, request: Request) -> Response<Body> {
    serve(request, |request| async move {
        // An id that is not an ObjectId cannot name a product: 404, like any other.
        let id = ProductId::parse(&path_param(&request, "id")).map_err(|_| ApiError::NotFound)?;
        let product = store.get_product(id).await?.ok_or(ApiError::NotFound)?;
        json(200, &product)
    })
    .await
}
