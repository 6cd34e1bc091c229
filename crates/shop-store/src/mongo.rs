//! The MongoDB adapter. Only standard server features are used (unique and TTL
//! indexes, `$in`, sort/limit), so any MongoDB 7+ or Atlas cluster works.

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use mongodb::bson::{self, Document, doc};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{
    ClientOptions, IndexOptions, ReadPreference, SelectionCriteria, WriteConcern,
};
use mongodb::{Client, Collection, Database, IndexModel};
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use tokio::sync::OnceCell;

use mongodb::bson::oid::ObjectId;
use shop_domain::paging::PageParams;
use shop_domain::{OrderId, ProductId, UserId};

use crate::deadline::{bounded, mark_failed};
use crate::{StoreError, StoreResult};

/// The domain's ids as MongoDB keeps them: the same twelve bytes, as ObjectIds.
pub(crate) trait AsObjectId: Copy {
    fn object_id(self) -> ObjectId;
}

macro_rules! as_object_id {
    ($($id:ty),*) => {
        $(impl AsObjectId for $id {
            fn object_id(self) -> ObjectId {
                ObjectId::from_bytes(self.bytes())
            }
        })*
    };
}

as_object_id!(UserId, ProductId, OrderId);

/// The longest the driver looks for a server, or waits to connect to one, before
/// the operation fails (and the request gets 503).
pub const SELECTION_LIMIT: Duration = Duration::from_secs(2);

pub(crate) const USERS: &str = "users";
pub(crate) const RATE_COUNTERS: &str = "rate_counters";
pub(crate) const PRODUCTS: &str = "products";
pub(crate) const ORDERS: &str = "orders";

/// One database handle per function instance; cheap to clone.
#[derive(Clone)]
pub struct MongoStore {
    db: Database,
    indexes: Arc<OnceCell<()>>,
}

impl MongoStore {
    /// Builds the client (no I/O yet: the driver connects on first use).
    ///
    /// Whatever the URI says, a server that cannot be found or connected to within
    /// [`SELECTION_LIMIT`] is a 503, writes are acknowledged by a majority
    /// (`w: majority`, journaled) and reads go to the primary: a URI's `w=0` or
    /// `readPreference=secondary` could otherwise acknowledge an order that is then
    /// lost, or read a stale one. Each override is logged.
    pub async fn connect(uri: &str, database: &str) -> StoreResult<Self> {
        let mut options = ClientOptions::parse(uri)
            .await
            .map_err(|e| StoreError::Unavailable(format!("MONGODB_URI is not usable: {e}")))?;
        pin_safety(&mut options);
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
                    run(self
                        .db
                        .collection::<Document>(collection)
                        .create_indexes(models))
                    .await?;
                }
                Ok(())
            })
            .await
            .map(|_| ())
    }
}

/// The time limits, write concern and read preference the shop relies on, over
/// whatever the connection string asked for.
fn pin_safety(options: &mut ClientOptions) {
    for (name, limit) in [
        (
            "serverSelectionTimeoutMS",
            &mut options.server_selection_timeout,
        ),
        ("connectTimeoutMS", &mut options.connect_timeout),
    ] {
        match limit {
            Some(asked) if *asked <= SELECTION_LIMIT => {}
            Some(asked) => {
                tracing::warn!(
                    option = name,
                    asked_ms = asked.as_millis() as u64,
                    used_ms = SELECTION_LIMIT.as_millis() as u64,
                    "MONGODB_URI asks for a longer time limit than the shop allows"
                );
                *limit = Some(SELECTION_LIMIT);
            }
            None => *limit = Some(SELECTION_LIMIT),
        }
    }
    let majority = WriteConcern::builder()
        .w(mongodb::options::Acknowledgment::Majority)
        .journal(true)
        .build();
    if options
        .write_concern
        .as_ref()
        .is_some_and(|w| *w != majority)
    {
        tracing::warn!("MONGODB_URI sets a write concern; the shop writes with w=majority, j=true");
    }
    options.write_concern = Some(majority);
    let primary = SelectionCriteria::ReadPreference(ReadPreference::Primary);
    if options.selection_criteria.as_ref().is_some_and(|c| {
        !matches!(
            c,
            SelectionCriteria::ReadPreference(ReadPreference::Primary)
        )
    }) {
        tracing::warn!("MONGODB_URI sets a read preference; the shop reads from the primary");
    }
    options.selection_criteria = Some(primary);
    options.app_name.get_or_insert_with(|| "shop".into());
}

/// Runs one driver operation under the request's deadline (see
/// [`super::deadline`]); any failure is [`StoreError::Unavailable`].
pub(crate) async fn run<T>(
    operation: impl IntoFuture<Output = mongodb::error::Result<T>>,
) -> StoreResult<T> {
    bounded(operation.into_future()).await?.map_err(unavailable)
}

/// Like [`run`], keeping the driver's error for a caller that tells a duplicate key
/// from other failures (and passes the others to [`unavailable`]).
pub(crate) async fn attempt<T>(
    operation: impl IntoFuture<Output = mongodb::error::Result<T>>,
) -> StoreResult<mongodb::error::Result<T>> {
    bounded(operation.into_future()).await
}

fn unique(keys: Document, name: &str) -> IndexModel {
    let options = IndexOptions::builder()
        .unique(true)
        .name(name.to_string())
        .build();
    IndexModel::builder().keys(keys).options(options).build()
}

/// Unique among the documents that have `field`; the others are not indexed.
fn holding_unique(keys: Document, field: &str, name: &str) -> IndexModel {
    let options = IndexOptions::builder()
        .unique(true)
        .partial_filter_expression(doc! {field: {"$exists": true}})
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
        // A window's counter goes once the window has ended.
        (
            RATE_COUNTERS,
            vec![ttl(doc! {"expiresAt": 1}, Duration::ZERO, "expiresAt_ttl")],
        ),
        (
            PRODUCTS,
            vec![
                plain(doc! {"category": 1, "_id": -1}),
                // The products holding stock for an order (release, reconcile).
                plain(doc! {"holds.order": 1}),
            ],
        ),
        (
            ORDERS,
            vec![
                plain(doc! {"userId": 1, "_id": -1}),
                plain(doc! {"status": 1, "createdAt": 1}),
                // A buyer's idempotency key, on the orders that hold one.
                holding_unique(
                    doc! {"userId": 1, "idempotency.key": 1},
                    "idempotency.key",
                    "userId_idempotencyKey_unique",
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
    projection: Option<Document>,
    page: &PageParams,
) -> StoreResult<Vec<T>>
where
    D: DeserializeOwned + Send + Sync,
    T: TryFrom<D, Error = StoreError>,
{
    if let Some(before) = page.before.map(ObjectId::from_bytes) {
        match query.get_document_mut("_id") {
            Ok(rule) => {
                rule.insert("$lt", before);
            }
            Err(_) => {
                query.insert("_id", doc! {"$lt": before});
            }
        }
    }
    let find = async {
        let mut find = collection.find(query);
        if let Some(projection) = projection {
            find = find.projection(projection);
        }
        let mut cursor = find
            .sort(doc! {"_id": -1})
            .limit(page.fetch() as i64)
            .await?;
        // Sized once: a page is never longer than it asks for.
        let mut docs = Vec::with_capacity(page.fetch());
        while let Some(doc) = cursor.try_next().await? {
            docs.push(doc);
        }
        Ok::<_, mongodb::error::Error>(docs)
    };
    let docs = run(find).await?;
    docs.into_iter().map(T::try_from).collect()
}

/// A driver error as a store error; the request's later operations then fail fast.
pub(crate) fn unavailable(error: mongodb::error::Error) -> StoreError {
    mark_failed();
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

/// Dates read from the documents the driver hands over. `bson::DateTime`'s own
/// `Deserialize` goes through `{"$date": {"$numberLong": "…"}}`, writing the
/// milliseconds out as text and parsing them back (about 2,000 instructions
/// for each date, and a page of products has 40); read as a raw BSON value, a
/// date is its milliseconds. For `#[serde(deserialize_with = …)]`.
///
/// Only a BSON date is a date: a sub-document shaped like extended JSON
/// (`{"$date": …}`), which bson's own reader also took, is refused. The shop
/// writes its dates through [`to_bson_time`] only.
pub(crate) mod raw_date {
    use bson::RawBsonRef;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer};

    pub(crate) fn one<'de, D: Deserializer<'de>>(input: D) -> Result<bson::DateTime, D::Error> {
        match RawBsonRef::deserialize(input)? {
            RawBsonRef::DateTime(date) => Ok(date),
            other => Err(D::Error::custom(format_args!(
                "expected a date, found {:?}",
                other.element_type()
            ))),
        }
    }

    /// A date, or `null`; an absent field is `#[serde(default)]`'s.
    pub(crate) fn optional<'de, D: Deserializer<'de>>(
        input: D,
    ) -> Result<Option<bson::DateTime>, D::Error> {
        match RawBsonRef::deserialize(input)? {
            RawBsonRef::DateTime(date) => Ok(Some(date)),
            RawBsonRef::Null => Ok(None),
            other => Err(D::Error::custom(format_args!(
                "expected a date or null, found {:?}",
                other.element_type()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;
    use serde::Deserialize;

    use super::raw_date;

    #[derive(Debug, Deserialize)]
    struct Dated {
        #[serde(deserialize_with = "raw_date::one")]
        at: bson::DateTime,
        #[serde(default, deserialize_with = "raw_date::optional")]
        until: Option<bson::DateTime>,
    }

    /// As the driver reads a document: from its bytes.
    fn read(document: bson::Document) -> Result<Dated, bson::de::Error> {
        bson::from_slice(&bson::to_vec(&document).unwrap())
    }

    #[test]
    fn dates_are_read_from_raw_documents_with_null_and_absence_as_none() {
        let at = bson::DateTime::from_millis(1_796_507_223_456);
        let until = bson::DateTime::from_millis(-86_400_001);
        let both = read(doc! {"at": at, "until": until}).unwrap();
        assert_eq!((both.at, both.until), (at, Some(until)));
        assert_eq!(read(doc! {"at": at, "until": null}).unwrap().until, None);
        assert_eq!(read(doc! {"at": at}).unwrap().until, None);
        for wrong in [
            doc! {"at": null},
            doc! {},
            doc! {"at": at.timestamp_millis()},
            doc! {"at": "2026-12-05T00:00:00Z"},
            doc! {"at": {"$date": {"$numberLong": "1"}}},
            doc! {"at": at, "until": 5},
        ] {
            assert!(read(wrong.clone()).is_err(), "{wrong}");
        }
    }
}
