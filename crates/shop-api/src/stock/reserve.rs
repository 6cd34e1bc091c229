//! `POST /stock/reservations` (internal): reserves an order's stock, all lines
//! or none, and answers every line's product with its current name and price.

use std::time::Duration;

use lambda_http::{Body, Request, Response};
use serde::Serialize;
use shop_domain::order::OrderRequest;
use shop_domain::validation::{Errors, Object, string};
use shop_domain::{OrderId, Product};
use shop_store::{OrderStore, StockStore};

/// What an instance keeps: the store, the service-token key and the reservation TTL.
pub use super::Instance;
use super::ledger::reserve_lines;
use super::token::ServiceTokens;
use crate::error::ApiError;
use crate::http::{json, json_body, serve};

/// Answers one invocation with what the instance keeps.
pub async fn respond(instance: &Instance, request: Request) -> Response<Body> {
    handle(&instance.store, &instance.service, instance.ttl, request).await
}

/// A reservation: the order it is for, and its lines as `POST /orders` names them.
fn parse(body: &str) -> Result<(OrderId, OrderRequest), ApiError> {
    let object = Object::parse_body(body)?;
    let mut errors = Errors::default();
    object.deny_unknown(&["orderId", "products"], &mut errors);
    let order = object.required("orderId", &mut errors, string(|s| OrderId::parse(&s)));
    let lines = object.required("products", &mut errors, |raw| Ok(raw.get().to_string()));
    errors.finish()?;
    let (Some(order), Some(lines)) = (order, lines) else {
        return Err(ApiError::Internal);
    };
    // The lines follow the very rules of an order's body, and fail with its names.
    let request = OrderRequest::parse(&format!(r#"{{"products":{lines}}}"#))?;
    Ok((order, request))
}

/// What the order needs of each line's product: its current name and price.
/// (Not the whole product: 100 products with long descriptions could outgrow
/// what one answer may carry.)
#[derive(Serialize)]
struct Priced<'a> {
    id: shop_domain::ProductId,
    name: &'a str,
    price: shop_domain::Money,
}

#[derive(Serialize)]
struct Reserved<'a> {
    items: Vec<Priced<'a>>,
}

/// The handler, over any store: the function passes MongoDB, the tests also
/// the in-memory store.
pub async fn handle(
    store: &(impl StockStore + OrderStore),
    service: &ServiceTokens,
    ttl: Duration,
    request: Request,
) -> Response<Body> {
    serve(request, |request| async move {
        service.check(&request)?;
        let (order, lines) = parse(json_body(&request)?)?;
        let items = reserve_lines(store, order, &lines.lines, ttl).await?;
        tracing::info!(%order, lines = lines.lines.len(), "stock reserved");
        let items = items
            .iter()
            .map(|p: &Product| Priced {
                id: p.id,
                name: p.name.as_str(),
                price: p.price,
            })
            .collect();
        json(200, &Reserved { items })
    })
    .await
}
