//! The MongoDB adapter. Only standard server features are used (unique and TTL
//! indexes, `$in`, sort/limit), so any MongoDB 7+ or Atlas cluster works.

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use mongodb::bson::{self, Document, doc};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, Collection, Database, IndexModel};
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use tokio::sync::OnceCell;

use super::{StoreError, StoreResult};
use crate::paging::PageParams;

pub(crate) const USERS: &str = "users";
pub(crate) const LOGIN_ATTEMPTS: &str = "login_attempts";
pub(crate) const PRODUCTS: &str = "products";
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

/// One page, newest first: the documents matching `query` whose id is below
/// the page's cursor, at most `page.fetch()` of them, each turned into `T`.
pub(crate) async fn find_page<D, T>(
    collection: &Collection<D>,
    mut query: Document,
    page: &PageParams,
) -> StoreResult<Vec<T>>
where
    D: DeserializeOwned + Send + Sync,
    T: TryFrom<D, Error = StoreError>,
{
    if let Some(before) = page.before {
        match query.get_document_mut("_id") {
            Ok(rule) => {
                rule.insert("$lt", before);
            }
            Err(_) => {
                query.insert("_id", doc! {"$lt": before});
            }
        }
    }
    let docs: Vec<D> = collection
        .find(query)
        .sort(doc! {"_id": -1})
        .limit(page.fetch() as i64)
        .await
        .map_err(unavailable)?
        .try_collect()
        .await
        .map_err(unavailable)?;
    docs.into_iter().map(T::try_from).collect()
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
