//! Orders in MongoDB, with the idempotency keys they hold (`mongo_keys`): the
//! pending order's insert claims its key.

use futures::TryStreamExt;
use mongodb::Collection;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{self, Document, doc};
use mongodb::options::ReturnDocument;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::mongo::{
    AsObjectId, ORDERS, attempt, find_page, is_duplicate_key, raw_date, run, to_bson_time,
    unavailable,
};
use crate::mongo_keys::{KEY_FIELD, KeyDoc};
use crate::{
    Claim, KeyClaim, MongoStore, OrderFilter, OrderStore, StoreError, StoreResult, Updated,
};
use shop_domain::money::Money;
use shop_domain::order::{Order, OrderLine, OrderStatus, StatusChange};
use shop_domain::paging::PageParams;
use shop_domain::{OrderId, ProductId, UserId};

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineDoc {
    product_id: ObjectId,
    name: String,
    unit_price_cents: i64,
    quantity: i64,
    line_total_cents: i64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderDoc {
    #[serde(rename = "_id")]
    id: ObjectId,
    user_id: ObjectId,
    products: Vec<LineDoc>,
    total_price_cents: i64,
    status: OrderStatus,
    #[serde(deserialize_with = "raw_date::one")]
    created_at: bson::DateTime,
    /// Absent on orders stored before they could change: their creation time.
    #[serde(default, deserialize_with = "raw_date::optional")]
    updated_at: Option<bson::DateTime>,
    /// Absent on orders stored before they could change: created, by the buyer.
    #[serde(default)]
    status_history: Option<Vec<ChangeDoc>>,
    /// The key the order was placed with, while it holds one: written when
    /// the pending order claims it, never read with the order.
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    idempotency: Option<KeyDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangeDoc {
    status: OrderStatus,
    #[serde(deserialize_with = "raw_date::one")]
    at: bson::DateTime,
    by: ObjectId,
}

impl From<&StatusChange> for ChangeDoc {
    fn from(change: &StatusChange) -> Self {
        Self {
            status: change.status,
            at: to_bson_time(change.at),
            by: change.by.object_id(),
        }
    }
}

impl From<&Order> for OrderDoc {
    fn from(order: &Order) -> Self {
        Self {
            id: order.id.object_id(),
            user_id: order.user_id.object_id(),
            products: order
                .products
                .iter()
                .map(|line| LineDoc {
                    product_id: line.product_id.object_id(),
                    name: line.name.clone(),
                    unit_price_cents: line.unit_price.cents(),
                    quantity: i64::from(line.quantity),
                    line_total_cents: line.line_total.cents(),
                })
                .collect(),
            total_price_cents: order.total_price.cents(),
            status: order.status,
            created_at: to_bson_time(order.created_at),
            updated_at: Some(to_bson_time(order.updated_at)),
            status_history: Some(order.status_history.iter().map(ChangeDoc::from).collect()),
            idempotency: None,
        }
    }
}

impl TryFrom<OrderDoc> for Order {
    type Error = StoreError;
    fn try_from(doc: OrderDoc) -> Result<Self, Self::Error> {
        let id = doc.id;
        let corrupt = |why: String| StoreError::Corrupt(format!("order {id}: {why}"));
        let money = |cents: i64| Money::from_cents(cents).map_err(corrupt);
        let products = doc
            .products
            .into_iter()
            .map(|line| {
                Ok(OrderLine {
                    product_id: ProductId::from_bytes(line.product_id.bytes()),
                    name: line.name,
                    unit_price: money(line.unit_price_cents)?,
                    quantity: u32::try_from(line.quantity).map_err(|e| corrupt(e.to_string()))?,
                    line_total: money(line.line_total_cents)?,
                })
            })
            .collect::<StoreResult<_>>()?;
        let user_id = UserId::from_bytes(doc.user_id.bytes());
        let created_at = doc.created_at.to_time_0_3();
        let status_history = match doc.status_history {
            Some(changes) => changes
                .into_iter()
                .map(|c| StatusChange {
                    status: c.status,
                    at: c.at.to_time_0_3(),
                    by: UserId::from_bytes(c.by.bytes()),
                })
                .collect(),
            None => vec![StatusChange {
                status: OrderStatus::Created,
                at: created_at,
                by: user_id,
            }],
        };
        Ok(Order {
            id: OrderId::from_bytes(id.bytes()),
            user_id,
            products,
            total_price: money(doc.total_price_cents)?,
            status: doc.status,
            created_at,
            updated_at: doc
                .updated_at
                .map_or(created_at, bson::DateTime::to_time_0_3),
            status_history,
        })
    }
}

impl MongoStore {
    /// [`OrderStore::change_status`] for an order stored before the lifecycle
    /// existed (no `statusHistory`): its history starts with its creation, by
    /// its buyer. The write is conditional on both, as the usual one is.
    async fn change_first_version_status(
        &self,
        id: OrderId,
        from: OrderStatus,
        change: &StatusChange,
    ) -> StoreResult<Option<OrderDoc>> {
        let filter = doc! {"_id": id.object_id(), "statusHistory": {"$exists": false}};
        let Some(old) = run(self.orders().find_one(filter.clone())).await? else {
            return Ok(None);
        };
        let first = ChangeDoc {
            status: OrderStatus::Created,
            at: old.created_at,
            by: old.user_id,
        };
        let history = bson::to_bson(&vec![first, ChangeDoc::from(change)])
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut filter = filter;
        filter.insert("status", from.as_str());
        let update = doc! {"$set": {
            "status": change.status.as_str(),
            "updatedAt": to_bson_time(change.at),
            "statusHistory": history,
        }};
        run(self
            .orders()
            .find_one_and_update(filter, update)
            .return_document(ReturnDocument::After))
        .await
    }
}

/// Matches the orders that were placed (not pending, not abandoned), whatever
/// else `query` asks.
fn placed(mut query: Document) -> Document {
    let unplaced = [
        OrderStatus::Pending.as_str(),
        OrderStatus::Abandoned.as_str(),
    ];
    query.insert("status", doc! {"$nin": unplaced.to_vec()});
    query
}

impl MongoStore {
    fn orders(&self) -> Collection<OrderDoc> {
        self.database().collection(ORDERS)
    }
}

impl OrderStore for MongoStore {
    async fn insert_order(&self, order: &Order) -> StoreResult<()> {
        self.ensure_indexes().await?;
        match attempt(self.orders().insert_one(OrderDoc::from(order))).await? {
            Ok(_) => Ok(()),
            // Stored already: by a request of the same key whose insert landed late.
            Err(e) if is_duplicate_key(&e) => Err(StoreError::Duplicate("id")),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get_order(&self, id: OrderId) -> StoreResult<Option<Order>> {
        run(self.orders().find_one(placed(doc! {"_id": id.object_id()})))
            .await?
            .map(Order::try_from)
            .transpose()
    }

    async fn list_orders(
        &self,
        filter: &OrderFilter,
        page: &PageParams,
    ) -> StoreResult<Vec<Order>> {
        self.ensure_indexes().await?;
        let mut query = Document::new();
        if let Some(user) = filter.user {
            query.insert("userId", user.object_id());
        }
        let query = match filter.status {
            Some(status) => {
                query.insert("status", status.as_str());
                query
            }
            None => placed(query),
        };
        find_page(&self.orders(), query, None, page).await
    }

    async fn finalize_order(&self, order: &Order) -> StoreResult<bool> {
        let doc = OrderDoc::from(order);
        let set = bson::to_document(&doc).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let pending = doc! {"_id": order.id.object_id(), "status": OrderStatus::Pending.as_str()};
        let result = run(self.orders().update_one(pending, doc! {"$set": set})).await?;
        Ok(result.matched_count == 1)
    }

    async fn drop_pending(&self, id: OrderId) -> StoreResult<bool> {
        let pending = doc! {"_id": id.object_id(), "status": OrderStatus::Pending.as_str()};
        let abandoned = doc! {
            "$set": {"status": OrderStatus::Abandoned.as_str()},
            "$unset": {KEY_FIELD: ""},
        };
        let result = run(self.orders().update_one(pending, abandoned)).await?;
        Ok(result.matched_count == 1)
    }

    async fn change_status(
        &self,
        id: OrderId,
        from: OrderStatus,
        change: &StatusChange,
    ) -> StoreResult<Updated<Order>> {
        let history = bson::to_bson(&ChangeDoc::from(change))
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let filter = doc! {
            "_id": id.object_id(),
            "status": from.as_str(),
            "statusHistory": {"$exists": true},
        };
        let update = doc! {
            "$set": {"status": change.status.as_str(), "updatedAt": to_bson_time(change.at)},
            "$push": {"statusHistory": history},
        };
        let mut changed = run(self
            .orders()
            .find_one_and_update(filter, update)
            .return_document(ReturnDocument::After))
        .await?;
        if changed.is_none() {
            changed = self.change_first_version_status(id, from, change).await?;
        }
        match changed {
            Some(doc) => Ok(Updated::Done(Order::try_from(doc)?)),
            None => Ok(match self.get_order(id).await? {
                Some(_) => Updated::Stale,
                None => Updated::Missing,
            }),
        }
    }

    async fn order_status(
        &self,
        id: OrderId,
    ) -> StoreResult<Option<(OrderStatus, OffsetDateTime)>> {
        Ok(run(self.orders().find_one(doc! {"_id": id.object_id()}))
            .await?
            .map(|doc| (doc.status, doc.created_at.to_time_0_3())))
    }

    async fn pending_orders_before(&self, before: OffsetDateTime) -> StoreResult<Vec<OrderId>> {
        let filter = doc! {
            "status": OrderStatus::Pending.as_str(),
            "createdAt": {"$lt": to_bson_time(before)},
        };
        let ids = async {
            self.orders()
                .find(filter)
                .await?
                .try_collect::<Vec<OrderDoc>>()
                .await
        };
        Ok(run(ids)
            .await?
            .into_iter()
            .map(|doc| OrderId::from_bytes(doc.id.bytes()))
            .collect())
    }

    async fn claim_key(&self, pending: &Order, claim: &KeyClaim) -> StoreResult<Claim> {
        self.ensure_indexes().await?;
        let mut order = OrderDoc::from(pending);
        order.idempotency = Some(KeyDoc::from(claim));
        self.claim_with(&self.orders(), &order, claim).await
    }

    async fn take_over_key(
        &self,
        held: &KeyClaim,
        expires_at: OffsetDateTime,
    ) -> StoreResult<bool> {
        self.take_over_idempotency_key(held, expires_at).await
    }

    async fn release_key(&self, held: &KeyClaim) -> StoreResult<bool> {
        self.release_idempotency_key(held).await
    }

    async fn discard_pending(&self, id: OrderId) -> StoreResult<bool> {
        let pending = doc! {"_id": id.object_id(), "status": OrderStatus::Pending.as_str()};
        let result = run(self.orders().delete_one(pending)).await?;
        Ok(result.deleted_count == 1)
    }
}
