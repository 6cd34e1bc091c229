//! The MongoDB adapter. Only standard server features are used (unique and TTL
//! indexes, `$in`, sort/limit), so any MongoDB 7+ or Atlas cluster works.

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{self, Document, doc};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, IndexOptions, ReturnDocument};
use mongodb::{Client, Collection, Database, IndexModel};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::OnceCell;

use super::{
    AttemptCount, LOGIN_WINDOW, LoginThrottle, ProductFilter, ProductStore, StoreError,
    StoreResult, UserStore,
};
use crate::domain::{
    Category, Description, Email, Product, ProductId, ProductName, Role, User, Username,
};
use crate::money::Money;
use crate::paging::PageParams;

const USERS: &str = "users";
const LOGIN_ATTEMPTS: &str = "login_attempts";
const PRODUCTS: &str = "products";
pub(crate) const ORDERS: &str = "orders";
pub(crate) const IDEMPOTENCY_KEYS: &str = "idempotency_keys";

/// One database handle per function instance; cheap to clone.
#[derive(Clone)]
pub struct MongoStore {
    db: Database,
    indexes: Arc<OnceCell<()>>,
}

impl MongoStore {
    /// Builds the client (no I/O yet: the driver connects on first use). A server
    /// that cannot be found within a few seconds surfaces as 503, not a hang.
    pub async fn connect(uri: &str, database: &str) -> StoreResult<Self> {
        let mut options = ClientOptions::parse(uri)
            .await
            .map_err(|e| StoreError::Unavailable(format!("MONGODB_URI is not usable: {e}")))?;
        options
            .server_selection_timeout
            .get_or_insert(Duration::from_secs(5));
        options
            .connect_timeout
            .get_or_insert(Duration::from_secs(5));
        options.app_name.get_or_insert_with(|| "shop".into());
        let client = Client::with_options(options).map_err(unavailable)?;
        Ok(Self::new(client.database(database)))
    }

    pub fn new(db: Database) -> Self {
        Self {
            db,
            indexes: Arc::new(OnceCell::new()),
        }
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Ensures every index the shop relies on, once per instance. Creating an
    /// index that exists with the same keys and options is a no-op, so this is
    /// safe to run from every function; a failure is retried on the next call.
    pub async fn ensure_indexes(&self) -> StoreResult<()> {
        self.indexes
            .get_or_try_init(|| async {
                for (collection, models) in index_plan() {
                    self.db
                        .collection::<Document>(collection)
                        .create_indexes(models)
                        .await
                        .map_err(unavailable)?;
                }
                Ok(())
            })
            .await
            .map(|_| ())
    }

    fn users(&self) -> Collection<UserDoc> {
        self.db.collection(USERS)
    }

    fn products(&self) -> Collection<ProductDoc> {
        self.db.collection(PRODUCTS)
    }

    fn login_attempts(&self) -> Collection<Document> {
        self.db.collection(LOGIN_ATTEMPTS)
    }
}

fn unique(keys: Document, name: &str) -> IndexModel {
    let options = IndexOptions::builder()
        .unique(true)
        .name(name.to_string())
        .build();
    IndexModel::builder().keys(keys).options(options).build()
}

fn ttl(keys: Document, after: Duration, name: &str) -> IndexModel {
    let options = IndexOptions::builder()
        .expire_after(after)
        .name(name.to_string())
        .build();
    IndexModel::builder().keys(keys).options(options).build()
}

fn plain(keys: Document) -> IndexModel {
    IndexModel::builder().keys(keys).build()
}

/// Every index the shop relies on, by collection.
fn index_plan() -> Vec<(&'static str, Vec<IndexModel>)> {
    vec![
        (
            USERS,
            vec![
                unique(doc! {"usernameKey": 1}, "usernameKey_unique"),
                unique(doc! {"email": 1}, "email_unique"),
            ],
        ),
        // A window's document goes once the window has ended.
        (
            LOGIN_ATTEMPTS,
            vec![ttl(
                doc! {"windowEnds": 1},
                Duration::ZERO,
                "windowEnds_ttl",
            )],
        ),
        (PRODUCTS, vec![plain(doc! {"category": 1, "_id": -1})]),
        (ORDERS, vec![plain(doc! {"userId": 1, "_id": -1})]),
        (
            IDEMPOTENCY_KEYS,
            vec![
                unique(doc! {"userId": 1, "key": 1}, "userId_key_unique"),
                ttl(
                    doc! {"createdAt": 1},
                    super::IDEMPOTENCY_KEY_TTL,
                    "createdAt_ttl",
                ),
            ],
        ),
    ]
}

pub(crate) fn unavailable(error: mongodb::error::Error) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

pub(crate) fn is_duplicate_key(error: &mongodb::error::Error) -> bool {
    match error.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == 11000,
        ErrorKind::Command(e) => e.code == 11000,
        _ => false,
    }
}

pub(crate) fn to_bson_time(t: OffsetDateTime) -> bson::DateTime {
    bson::DateTime::from_time_0_3(t)
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

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProductDoc {
    #[serde(rename = "_id")]
    id: ObjectId,
    name: String,
    description: String,
    /// Exact: the price in cents.
    price_cents: i64,
    category: String,
    created_at: bson::DateTime,
}

impl From<&Product> for ProductDoc {
    fn from(p: &Product) -> Self {
        Self {
            id: p.id.object_id(),
            name: p.name.as_str().to_string(),
            description: p.description.as_str().to_string(),
            price_cents: p.price.cents(),
            category: p.category.as_str().to_string(),
            created_at: to_bson_time(p.created_at),
        }
    }
}

impl TryFrom<ProductDoc> for Product {
    type Error = StoreError;
    fn try_from(doc: ProductDoc) -> Result<Self, Self::Error> {
        let id = doc.id;
        let corrupt =
            |field: &str, why: String| StoreError::Corrupt(format!("product {id}: {field} {why}"));
        Ok(Product {
            id: id.into(),
            name: ProductName::parse(doc.name).map_err(|e| corrupt("name", e))?,
            description: Description::parse(doc.description)
                .map_err(|e| corrupt("description", e))?,
            price: Money::from_cents(doc.price_cents).map_err(|e| corrupt("priceCents", e))?,
            category: Category::parse(doc.category).map_err(|e| corrupt("category", e))?,
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

impl ProductStore for MongoStore {
    async fn insert_product(&self, product: &Product) -> StoreResult<()> {
        self.ensure_indexes().await?;
        self.products()
            .insert_one(ProductDoc::from(product))
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get_product(&self, id: ProductId) -> StoreResult<Option<Product>> {
        self.products()
            .find_one(doc! {"_id": id.object_id()})
            .await
            .map_err(unavailable)?
            .map(Product::try_from)
            .transpose()
    }

    async fn list_products(
        &self,
        filter: &ProductFilter,
        page: &PageParams,
    ) -> StoreResult<Vec<Product>> {
        self.ensure_indexes().await?;
        let mut query = Document::new();
        let mut id_rule = Document::new();
        if let Some(ids) = &filter.ids {
            let ids: Vec<ObjectId> = ids.iter().map(|id| id.object_id()).collect();
            id_rule.insert("$in", ids);
        }
        if let Some(before) = page.before {
            id_rule.insert("$lt", before);
        }
        if !id_rule.is_empty() {
            query.insert("_id", id_rule);
        }
        if let Some(category) = &filter.category {
            query.insert("category", category.as_str());
        }
        let docs: Vec<ProductDoc> = self
            .products()
            .find(query)
            .sort(doc! {"_id": -1})
            .limit(page.fetch() as i64)
            .await
            .map_err(unavailable)?
            .try_collect()
            .await
            .map_err(unavailable)?;
        docs.into_iter().map(Product::try_from).collect()
    }
}
