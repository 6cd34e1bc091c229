//! Idempotency keys as MongoDB keeps them: on the order that claimed them (see
//! `mongo_orders`), where a unique index on (buyer, key), over the orders that
//! hold one, decides between racing requests.

use mongodb::Collection;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{self, Document, doc};
use mongodb::options::FindOneOptions;
use serde::{Deserialize, Serialize};
use shop_domain::order::OrderStatus;
use time::OffsetDateTime;

use crate::mongo::{
    AsObjectId, ORDERS, attempt, is_duplicate_key, raw_date, run, to_bson_time, unavailable,
};
use crate::{Claim, KeyClaim, MongoStore, StoreError, StoreResult};
use shop_domain::{OrderId, UserId};

/// The field of an order that holds its key.
pub(crate) const KEY_FIELD: &str = "idempotency";

/// An order's idempotency key (its buyer and id are the order's own).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeyDoc {
    key: String,
    fingerprint: String,
    #[serde(deserialize_with = "raw_date::one")]
    created_at: bson::DateTime,
    #[serde(deserialize_with = "raw_date::one")]
    expires_at: bson::DateTime,
}

impl From<&KeyClaim> for KeyDoc {
    fn from(claim: &KeyClaim) -> Self {
        Self {
            key: claim.key.clone(),
            fingerprint: claim.fingerprint.clone(),
            created_at: to_bson_time(claim.created_at),
            expires_at: to_bson_time(claim.expires_at),
        }
    }
}

/// The order holding a key, read without its lines.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HolderDoc {
    #[serde(rename = "_id")]
    id: ObjectId,
    user_id: ObjectId,
    idempotency: KeyDoc,
}

impl From<HolderDoc> for KeyClaim {
    fn from(doc: HolderDoc) -> Self {
        Self {
            user_id: UserId::from_bytes(doc.user_id.bytes()),
            key: doc.idempotency.key,
            fingerprint: doc.idempotency.fingerprint,
            order_id: OrderId::from_bytes(doc.id.bytes()),
            created_at: doc.idempotency.created_at.to_time_0_3(),
            expires_at: doc.idempotency.expires_at.to_time_0_3(),
        }
    }
}

/// The orders holding `claim`'s key for its buyer (one at most).
fn holding(claim: &KeyClaim) -> Document {
    doc! {"userId": claim.user_id.object_id(), "idempotency.key": &claim.key}
}

impl MongoStore {
    /// Inserts `order` (a pending order holding `claim`'s key) into `orders`,
    /// or finds the order that holds the key.
    pub(crate) async fn claim_with<D: Serialize + Send + Sync>(
        &self,
        orders: &Collection<D>,
        order: &D,
        claim: &KeyClaim,
    ) -> StoreResult<Claim> {
        // The holder can let go of the key between our failed insert and the
        // read (its order abandoned, or the key too old); then try again.
        for _ in 0..3 {
            match attempt(orders.insert_one(order)).await? {
                Ok(_) => return Ok(Claim::Won),
                Err(e) if is_duplicate_key(&e) => {
                    // Built only here: most claims are won at once.
                    let holder = FindOneOptions::builder()
                        .projection(doc! {"userId": 1, KEY_FIELD: 1})
                        .build();
                    let holders = self.database().collection::<HolderDoc>(ORDERS);
                    let found = holders.find_one(holding(claim)).with_options(holder);
                    if let Some(doc) = run(found).await? {
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

    pub(crate) async fn take_over_idempotency_key(
        &self,
        held: &KeyClaim,
        expires_at: OffsetDateTime,
    ) -> StoreResult<bool> {
        let mut filter = holding(held);
        filter.insert("_id", held.order_id.object_id());
        filter.insert("status", OrderStatus::Pending.as_str());
        filter.insert("idempotency.expiresAt", to_bson_time(held.expires_at));
        let update = doc! {"$set": {"idempotency.expiresAt": to_bson_time(expires_at)}};
        let result = run(self.orders_raw().update_one(filter, update)).await?;
        Ok(result.matched_count == 1)
    }

    pub(crate) async fn release_idempotency_key(&self, held: &KeyClaim) -> StoreResult<bool> {
        let mut filter = holding(held);
        filter.insert("_id", held.order_id.object_id());
        filter.insert("status", doc! {"$ne": OrderStatus::Pending.as_str()});
        let unset = doc! {"$unset": {KEY_FIELD: ""}};
        let result = run(self.orders_raw().update_one(filter, unset)).await?;
        Ok(result.matched_count == 1)
    }

    fn orders_raw(&self) -> Collection<Document> {
        self.database().collection(ORDERS)
    }
}
