//! Users and login attempts in MongoDB.

use mongodb::Collection;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{self, Document, doc};
use mongodb::options::ReturnDocument;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::mongo::{LOGIN_ATTEMPTS, USERS, is_duplicate_key, to_bson_time, unavailable};
use super::{
    AttemptCount, LOGIN_WINDOW, LoginThrottle, MongoStore, StoreError, StoreResult, UserStore,
};
use crate::domain::{Email, Role, User, Username};

impl MongoStore {
    fn users(&self) -> Collection<UserDoc> {
        self.database().collection(USERS)
    }

    fn login_attempts(&self) -> Collection<Document> {
        self.database().collection(LOGIN_ATTEMPTS)
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
            id: doc.id.into(),
            username: Username::parse(doc.username.clone()).map_err(|e| corrupt("username", e))?,
            email: Email::parse(doc.email.clone()).map_err(|e| corrupt("email", e))?,
            password_hash: doc.password_hash,
            role: doc.role,
            created_at: doc.created_at.to_time_0_3(),
        })
    }
}

impl UserStore for MongoStore {
    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        self.ensure_indexes().await?;
        let doc = UserDoc::from(user);
        match self.users().insert_one(&doc).await {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => {
                // Which unique index fired: ask rather than parse the server's message.
                let taken = self
                    .users()
                    .find_one(doc! {"usernameKey": &doc.username_key})
                    .await
                    .map_err(unavailable)?;
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
        let found = self
            .users()
            .find_one(login_filter(login))
            .await
            .map_err(unavailable)?;
        found.map(User::try_from).transpose()
    }

    async fn set_role(&self, login: &str, role: Role) -> StoreResult<Option<User>> {
        let role = bson::to_bson(&role).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.users()
            .find_one_and_update(login_filter(login), doc! {"$set": {"role": role}})
            .return_document(ReturnDocument::After)
            .await
            .map_err(unavailable)?
            .map(User::try_from)
            .transpose()
    }
}

impl LoginThrottle for MongoStore {
    async fn count_attempt(&self, key: &str, now: OffsetDateTime) -> StoreResult<AttemptCount> {
        self.ensure_indexes().await?;
        let counted = |doc: Document| -> StoreResult<AttemptCount> {
            let corrupt = |e: bson::document::ValueAccessError| StoreError::Corrupt(e.to_string());
            Ok(AttemptCount {
                attempts: u32::try_from(doc.get_i64("attempts").map_err(corrupt)?)
                    .unwrap_or(u32::MAX),
                window_ends: doc
                    .get_datetime("windowEnds")
                    .map_err(corrupt)?
                    .to_time_0_3(),
            })
        };
        let fresh = AttemptCount {
            attempts: 1,
            window_ends: now + LOGIN_WINDOW,
        };
        let fresh_doc = doc! {"attempts": 1_i64, "windowEnds": to_bson_time(fresh.window_ends)};
        // Each step is one atomic write; a lost race sends us round again.
        for _ in 0..3 {
            let open = doc! {"_id": key, "windowEnds": {"$gt": to_bson_time(now)}};
            let incremented = self
                .login_attempts()
                .find_one_and_update(open, doc! {"$inc": {"attempts": 1_i64}})
                .return_document(ReturnDocument::After)
                .await
                .map_err(unavailable)?;
            if let Some(doc) = incremented {
                return counted(doc);
            }
            let expired = doc! {"_id": key, "windowEnds": {"$lte": to_bson_time(now)}};
            let restarted = self
                .login_attempts()
                .update_one(expired, doc! {"$set": fresh_doc.clone()})
                .await
                .map_err(unavailable)?;
            if restarted.modified_count == 1 {
                return Ok(fresh);
            }
            let mut first = fresh_doc.clone();
            first.insert("_id", key);
            match self.login_attempts().insert_one(first).await {
                Ok(_) => return Ok(fresh),
                Err(e) if is_duplicate_key(&e) => continue,
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(StoreError::Unavailable(
            "a login window kept changing hands".into(),
        ))
    }

    async fn clear_attempts(&self, key: &str) -> StoreResult<()> {
        self.login_attempts()
            .delete_one(doc! {"_id": key})
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
