//! Stock in MongoDB: each product's document holds its `stock` and, in
//! `holds`, what each order has taken of it, so that taking stock and recording
//! the taker are one atomic write, and giving it back is one conditional write
//! that can happen only once.

use futures::TryStreamExt;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Document, doc};
use time::OffsetDateTime;

use crate::mongo::{AsObjectId, PRODUCTS, run, to_bson_time};
use crate::mongo_products::{ProductDoc, listed};
use crate::{Hold, MongoStore, StockHold, StockStore, StoreError, StoreResult};
use shop_domain::{OrderId, Product, ProductId};

/// The product's document, with its holds, whether listed or archived.
async fn product_doc(store: &MongoStore, product: ProductId) -> StoreResult<Option<ProductDoc>> {
    run(store.products().find_one(doc! {"_id": product.object_id()})).await
}

fn holds_of(doc: &ProductDoc) -> StoreResult<Vec<StockHold>> {
    doc.holds.iter().map(StockHold::try_from).collect()
}

/// Attempts for a conditional write that lost a race to another one.
const ATTEMPTS: usize = 5;

impl StockStore for MongoStore {
    async fn products_with_holds(
        &self,
        ids: &[ProductId],
    ) -> StoreResult<Vec<(Product, Vec<StockHold>)>> {
        let ids: Vec<ObjectId> = ids.iter().map(|id| id.object_id()).collect();
        let find = async {
            self.products()
                .find(listed(doc! {"_id": {"$in": ids}}))
                .await?
                .try_collect::<Vec<ProductDoc>>()
                .await
        };
        run(find)
            .await?
            .into_iter()
            .map(|doc| {
                let holds = holds_of(&doc)?;
                Ok((Product::try_from(doc)?, holds))
            })
            .collect()
    }

    async fn hold_stock(
        &self,
        product: ProductId,
        order: OrderId,
        quantity: u32,
        at: OffsetDateTime,
    ) -> StoreResult<Hold> {
        let wanted = i64::from(quantity);
        for _ in 0..ATTEMPTS {
            let filter = listed(doc! {
                "_id": product.object_id(),
                "stock": {"$gte": wanted},
                "holds.order": {"$ne": order.object_id()},
            });
            let hold = doc! {
                "order": order.object_id(),
                "quantity": wanted,
                "at": to_bson_time(at),
                "live": false,
            };
            let update = doc! {"$inc": {"stock": -wanted}, "$push": {"holds": hold}};
            if run(self.products().update_one(filter, update))
                .await?
                .matched_count
                == 1
            {
                return Ok(Hold::Held);
            }
            // Nothing taken: say why, from what is there now.
            let Some(doc) = product_doc(self, product).await? else {
                return Ok(Hold::Missing);
            };
            if doc.archived {
                return Ok(Hold::Missing);
            }
            if doc.holds.iter().any(|h| h.order == order.object_id()) {
                return Ok(Hold::AlreadyHeld);
            }
            match doc.stock {
                None => return Ok(Hold::Untracked),
                Some(available) if available < wanted => {
                    return Ok(Hold::Short {
                        available: u32::try_from(available.max(0)).unwrap_or(0),
                    });
                }
                // Enough now: the stock moved between the write and the read.
                Some(_) => {}
            }
        }
        Err(StoreError::Unavailable(format!(
            "the stock of product {product} kept changing"
        )))
    }

    async fn release_hold(&self, product: ProductId, order: OrderId) -> StoreResult<bool> {
        for _ in 0..ATTEMPTS {
            let Some(doc) = product_doc(self, product).await? else {
                return Ok(false);
            };
            let Some(hold) = doc.holds.iter().find(|h| h.order == order.object_id()) else {
                return Ok(false);
            };
            let held = doc! {
                "_id": product.object_id(),
                "holds": {"$elemMatch": {"order": order.object_id(), "quantity": hold.quantity}},
            };
            let pull = doc! {"holds": {"order": order.object_id()}};
            let (mut filter, update) = if doc.stock.is_some() {
                let update = doc! {"$inc": {"stock": hold.quantity}, "$pull": pull};
                (held, update)
            } else {
                (held, doc! {"$pull": pull})
            };
            // Tracked or not, as it was read: a change in between is another round.
            filter.insert(
                "stock",
                if doc.stock.is_some() {
                    doc! {"$ne": null}
                } else {
                    doc! {"$eq": null}
                },
            );
            if run(self.products().update_one(filter, update))
                .await?
                .matched_count
                == 1
            {
                return Ok(true);
            }
        }
        Err(StoreError::Unavailable(format!(
            "the holds of product {product} kept changing"
        )))
    }

    async fn settle_hold(&self, product: ProductId, order: OrderId) -> StoreResult<bool> {
        let filter = doc! {"_id": product.object_id(), "holds.order": order.object_id()};
        let update = doc! {"$pull": {"holds": {"order": order.object_id()}}};
        Ok(run(self.products().update_one(filter, update))
            .await?
            .matched_count
            == 1)
    }

    async fn mark_hold_live(&self, product: ProductId, order: OrderId) -> StoreResult<()> {
        let filter = doc! {"_id": product.object_id(), "holds.order": order.object_id()};
        let update = doc! {"$set": {"holds.$.live": true}};
        run(self.products().update_one(filter, update)).await?;
        Ok(())
    }

    async fn products_holding(&self, order: OrderId) -> StoreResult<Vec<ProductId>> {
        self.product_ids(doc! {"holds.order": order.object_id()})
            .await
    }

    async fn products_with_any_hold(&self) -> StoreResult<Vec<ProductId>> {
        self.product_ids(doc! {"holds.0": {"$exists": true}}).await
    }

    async fn holds_on(&self, product: ProductId) -> StoreResult<Vec<StockHold>> {
        match product_doc(self, product).await? {
            Some(doc) => holds_of(&doc),
            None => Ok(Vec::new()),
        }
    }
}

impl MongoStore {
    async fn product_ids(&self, filter: Document) -> StoreResult<Vec<ProductId>> {
        let find = async {
            self.database()
                .collection::<Document>(PRODUCTS)
                .find(filter)
                .projection(doc! {"_id": 1})
                .await?
                .try_collect::<Vec<Document>>()
                .await
        };
        run(find)
            .await?
            .iter()
            .map(|doc| {
                doc.get_object_id("_id")
                    .map(|id| ProductId::from_bytes(id.bytes()))
                    .map_err(|e| StoreError::Corrupt(format!("a product id: {e}")))
            })
            .collect()
    }
}
