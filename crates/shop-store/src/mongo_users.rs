//! Users and rate-limit counters in MongoDB.

use std::time::Duration;

use futures::TryStreamExt;
use mongodb::Collection;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{self, Document, doc};
use mongodb::options::ReturnDocument;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::mongo::{
    AsObjectId, RATE_COUNTERS, USERS, attempt, is_duplicate_key, raw_date, run, to_bson_time,
    unavailable,
};
use crate::{Counters, MongoStore, StoreError, StoreResult, UserStore};
use shop_domain::limits::{Count, window};
use shop_domain::{Email, Role, User, UserId, Username};

impl MongoStore {
    fn users(&self) -> Collection<UserDoc> {
        self.database().collection(USERS)
    }

    fn counters(&self) -> Collection<Document> {
        self.database().collection(RATE_COUNTERS)
    }

    /// Sets fields of the user `login` finds, returning the user as it is after.
    async fn update_user(&self, login: &str, set: Document) -> StoreResult<Option<User>> {
        run(self
            .users()
            .find_one_and_update(login_filter(login), doc! {"$set": set})
            .return_document(ReturnDocument::After))
        .await?
        .map(User::try_from)
        .transpose()
    }
}

/// A filter for users by login name: email when it holds an `@`.
fn login_filter(login: &str) -> Document {
    let key = login.to_ascii_lowercase();
    if key.contains('@') {
        doc! {"email": key}
    } else {
        doc! {"usernameKey": key}
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserDoc {
    #[serde(rename = "_id")]
    id: ObjectId,
    username: String,
    username_key: String,
    email: String,
    password_hash: String,
    role: Role,
    /// Absent on users stored before accounts could be disabled.
    #[serde(default)]
    disabled: bool,
    /// Absent on users whose password never changed.
    #[serde(default)]
    token_generation: i64,
    #[serde(deserialize_with = "raw_date::one")]
    created_at: bson::DateTime,
}

impl From<&User> for UserDoc {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.object_id(),
            username: user.username.as_str().to_string(),
            username_key: user.username.key(),
            email: user.email.as_str().to_string(),
            password_hash: user.password_hash.clone(),
            role: user.role,
            disabled: user.disabled,
            token_generation: user.token_generation.into(),
            created_at: to_bson_time(user.created_at),
        }
    }
}

impl TryFrom<UserDoc> for User {
    type Error = StoreError;
    fn try_from(doc: UserDoc) -> Result<Self, Self::Error> {
        let corrupt = |field: &str, why: String| {
            StoreError::Corrupt(format!("user {}: {field} {why}", doc.id))
        };
        Ok(User {
            id: UserId::from_bytes(doc.id.bytes()),
            username: Username::parse(doc.username.clone()).map_err(|e| corrupt("username", e))?,
            email: Email::parse(doc.email.clone()).map_err(|e| corrupt("email", e))?,
            password_hash: doc.password_hash,
            role: doc.role,
            disabled: doc.disabled,
            token_generation: u32::try_from(doc.token_generation)
                .map_err(|_| corrupt("tokenGeneration", format!("is {}", doc.token_generation)))?,
            created_at: doc.created_at.to_time_0_3(),
        })
    }
}

impl UserStore for MongoStore {
    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        self.ensure_indexes().await?;
        let doc = UserDoc::from(user);
        match attempt(self.users().insert_one(&doc)).await? {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => {
                // Which unique index fired: ask rather than parse the server's message.
                let taken = run(self
                    .users()
                    .find_one(doc! {"usernameKey": &doc.username_key}))
                .await?;
                Err(StoreError::Duplicate(if taken.is_some() {
                    "username"
                } else {
                    "email"
                }))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn find_user(&self, login: &str) -> StoreResult<Option<User>> {
        self.ensure_indexes().await?;
        run(self.users().find_one(login_filter(login)))
            .await?
            .map(User::try_from)
            .transpose()
    }

    async fn find_user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        run(self.users().find_one(doc! {"_id": id.object_id()}))
            .await?
            .map(User::try_from)
            .transpose()
    }

    async fn set_role(&self, login: &str, role: Role) -> StoreResult<Option<User>> {
        let role = bson::to_bson(&role).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.update_user(login, doc! {"role": role}).await
    }

    async fn set_disabled(&self, login: &str, disabled: bool) -> StoreResult<Option<User>> {
        self.update_user(login, doc! {"disabled": disabled}).await
    }

    async fn change_password(
        &self,
        id: UserId,
        generation: u32,
        password_hash: &str,
    ) -> StoreResult<bool> {
        let mut filter = doc! {"_id": id.object_id(), "disabled": {"$ne": true}};
        if generation == 0 {
            filter.insert(
                "$or",
                vec![
                    doc! {"tokenGeneration": 0_i64},
                    doc! {"tokenGeneration": {"$exists": false}},
                ],
            );
        } else {
            filter.insert("tokenGeneration", i64::from(generation));
        }
        let update = doc! {"$set": {
            "passwordHash": password_hash,
            "tokenGeneration": i64::from(generation) + 1,
        }};
        let result = run(self.users().update_one(filter, update)).await?;
        Ok(result.matched_count == 1)
    }
}

/// The time from `now` to `end`, at least a second (for `Retry-After`).
fn until(now: OffsetDateTime, end: OffsetDateTime) -> Duration {
    Duration::try_from(end - now)
        .unwrap_or_default()
        .max(Duration::from_secs(1))
}

impl Counters for MongoStore {
    async fn bump(
        &self,
        name: &str,
        length: Duration,
        now: OffsetDateTime,
        by: u64,
    ) -> StoreResult<Count> {
        self.ensure_indexes().await?;
        let (start, end) = window(now, length);
        let id = format!("{name}@{start}");
        let by = i64::try_from(by).unwrap_or(i64::MAX);
        let counted_now = |value| Count {
            value,
            wait: until(now, end),
        };
        // Each step is one atomic write: add to the counter if it exists, else
        // create it; two first counts racing to create it collide on its id, and the
        // loser adds to the winner's. (No upsert: the steps say plainly what
        // happened, whatever the server does with racing upserts.)
        for _ in 0..3 {
            let added = run(self
                .counters()
                .find_one_and_update(doc! {"_id": &id}, doc! {"$inc": {"count": by}})
                .return_document(ReturnDocument::After))
            .await?;
            if let Some(doc) = added {
                return Ok(counted_now(counted(&doc)?));
            }
            let first = doc! {"_id": &id, "count": by, "expiresAt": to_bson_time(end)};
            match attempt(self.counters().insert_one(first)).await? {
                Ok(_) => return Ok(counted_now(u64::try_from(by).unwrap_or(0))),
                Err(e) if is_duplicate_key(&e) => continue,
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(StoreError::Unavailable(format!(
            "counter {id} kept changing hands"
        )))
    }

    async fn peek(&self, name: &str, length: Duration, now: OffsetDateTime) -> StoreResult<Count> {
        let (start, end) = window(now, length);
        let found = run(self
            .counters()
            .find_one(doc! {"_id": format!("{name}@{start}")}))
        .await?;
        Ok(Count {
            value: found.as_ref().map(counted).transpose()?.unwrap_or(0),
            wait: until(now, end),
        })
    }

    async fn peek_each(
        &self,
        counters: &[(&str, Duration)],
        now: OffsetDateTime,
    ) -> StoreResult<Vec<Count>> {
        let windows: Vec<(String, OffsetDateTime)> = counters
            .iter()
            .map(|&(name, length)| {
                let (start, end) = window(now, length);
                (format!("{name}@{start}"), end)
            })
            .collect();
        let ids: Vec<&str> = windows.iter().map(|(id, _)| id.as_str()).collect();
        let find = async {
            self.counters()
                .find(doc! {"_id": {"$in": ids}})
                .await?
                .try_collect::<Vec<Document>>()
                .await
        };
        let found = run(find).await?;
        windows
            .iter()
            .map(|(id, end)| {
                let doc = found.iter().find(|d| d.get_str("_id") == Ok(id.as_str()));
                Ok(Count {
                    value: doc.map(counted).transpose()?.unwrap_or(0),
                    wait: until(now, *end),
                })
            })
            .collect()
    }
}

fn counted(doc: &Document) -> StoreResult<u64> {
    let value = match doc.get("count") {
        Some(bson::Bson::Int64(n)) => *n,
        Some(bson::Bson::Int32(n)) => i64::from(*n),
        _ => return Err(StoreError::Corrupt("a counter has no count".into())),
    };
    Ok(u64::try_from(value).unwrap_or(0))
}
