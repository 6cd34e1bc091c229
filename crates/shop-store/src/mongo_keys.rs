//! Idempotency keys in MongoDB: a unique index on (buyer, key) decides between
//! racing requests.

use mongodb::Collection;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{self, doc};
use serde::{Deserialize, Serialize};

use crate::mongo::{
    AsObjectId, IDEMPOTENCY_KEYS, attempt, is_duplicate_key, raw_date, run, to_bson_time,
    unavailable,
};
use crate::{Claim, KeyClaim, MongoStore, StoreError, StoreResult};
use shop_domain::{OrderId, UserId};

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyDoc {
    user_id: ObjectId,
    key: String,
    fingerprint: String,
    order_id: ObjectId,
    #[serde(deserialize_with = "raw_date::one")]
    created_at: bson::DateTime,
    #[serde(deserialize_with = "raw_date::one")]
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
    fn idempotency_keys(&self) -> Collection<KeyDoc> {
        self.database().collection(IDEMPOTENCY_KEYS)
    }

    pub(crate) async fn claim_idempotency_key(&self, claim: &KeyClaim) -> StoreResult<Claim> {
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

    pub(crate) async fn release_idempotency_key(&self, claim: &KeyClaim) -> StoreResult<()> {
        let filter = doc! {
            "userId": claim.user_id.object_id(),
            "key": &claim.key,
            "orderId": claim.order_id.object_id(),
        };
        run(self.idempotency_keys().delete_one(filter)).await?;
        Ok(())
    }
}
