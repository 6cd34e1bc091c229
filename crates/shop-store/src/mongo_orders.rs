//! Orders and idempotency keys in MongoDB.

use mongodb::Collection;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{self, Document, doc};
use serde::{Deserialize, Serialize};

use crate::mongo::{
    AsObjectId, IDEMPOTENCY_KEYS, ORDERS, attempt, find_page, is_duplicate_key, run, to_bson_time,
    unavailable,
};
use crate::{Claim, KeyClaim, MongoStore, OrderStore, StoreError, StoreResult};
use shop_domain::money::Money;
use shop_domain::order::{Order, OrderLine, OrderStatus};
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
    created_at: bson::DateTime,
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
        Ok(Order {
            id: OrderId::from_bytes(id.bytes()),
            user_id: UserId::from_bytes(doc.user_id.bytes()),
            products,
            total_price: money(doc.total_price_cents)?,
            status: doc.status,
            created_at: doc.created_at.to_time_0_3(),
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyDoc {
    user_id: ObjectId,
    key: String,
    fingerprint: String,
    order_id: ObjectId,
    created_at: bson::DateTime,
    expires_at: bson::DateTime,
}

impl From<&KeyClaim> for KeyDoc {
    fn from(claim: &KeyClaim) -> Self {
        Self {
            user_id: claim.user_id.object_id(),
            key: claim.key.clone(),
            fingerprint: claim.fingerprint.clone(),
            order_id: claim.order_id.object_id(),
            created_at: to_bson_time(claim.created_at),
            expires_at: to_bson_time(claim.expires_at),
        }
    }
}

impl From<KeyDoc> for KeyClaim {
    fn from(doc: KeyDoc) -> Self {
        Self {
            user_id: UserId::from_bytes(doc.user_id.bytes()),
            key: doc.key,
            fingerprint: doc.fingerprint,
            order_id: OrderId::from_bytes(doc.order_id.bytes()),
            created_at: doc.created_at.to_time_0_3(),
            expires_at: doc.expires_at.to_time_0_3(),
        }
    }
}

impl MongoStore {
    fn orders(&self) -> Collection<OrderDoc> {
        self.database().collection(ORDERS)
    }

    fn idempotency_keys(&self) -> Collection<KeyDoc> {
        self.database().collection(IDEMPOTENCY_KEYS)
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
        run(self.orders().find_one(doc! {"_id": id.object_id()}))
            .await?
            .map(Order::try_from)
            .transpose()
    }

    async fn list_orders(
        &self,
        user: Option<UserId>,
        page: &PageParams,
    ) -> StoreResult<Vec<Order>> {
        self.ensure_indexes().await?;
        let mut query = Document::new();
        if let Some(user) = user {
            query.insert("userId", user.object_id());
        }
        find_page(&self.orders(), query, page).await
    }

    async fn claim_key(&self, claim: &KeyClaim) -> StoreResult<Claim> {
        self.ensure_indexes().await?;
        let filter = doc! {"userId": claim.user_id.object_id(), "key": &claim.key};
        // A claim can vanish between our failed insert and the read (released
        // by a failed first request, or expired); then try again.
        for _ in 0..3 {
            match attempt(self.idempotency_keys().insert_one(KeyDoc::from(claim))).await? {
                Ok(_) => return Ok(Claim::Won),
                Err(e) if is_duplicate_key(&e) => {
                    let existing = run(self.idempotency_keys().find_one(filter.clone())).await?;
                    if let Some(doc) = existing {
                        return Ok(Claim::Taken(doc.into()));
                    }
                }
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(StoreError::Unavailable(
            "an idempotency key kept changing hands".into(),
        ))
    }

    async fn release_key(&self, claim: &KeyClaim) -> StoreResult<()> {
        let filter = doc! {
            "userId": claim.user_id.object_id(),
            "key": &claim.key,
            "orderId": claim.order_id.object_id(),
        };
        run(self.idempotency_keys().delete_one(filter)).await?;
        Ok(())
    }
}
