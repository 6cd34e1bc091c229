//! Products in MongoDB.
//!
//! Documents written before stock and editing existed read as they always meant:
//! no `stock` is untracked stock, no `version` is version 1, no `updatedAt` is the
//! creation time, no `archived` is listed.

use futures::TryStreamExt;
use mongodb::Collection;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{self, Bson, Document, doc};
use mongodb::options::ReturnDocument;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::mongo::{AsObjectId, PRODUCTS, find_page, raw_date, run, to_bson_time};
use crate::{MongoStore, ProductFilter, ProductStore, StockHold, StoreError, StoreResult, Updated};
use shop_domain::money::Money;
use shop_domain::paging::PageParams;
use shop_domain::{
    Category, CategoryCount, Description, OrderId, Product, ProductId, ProductName, ProductPatch,
};

impl MongoStore {
    pub(crate) fn products(&self) -> Collection<ProductDoc> {
        self.database().collection(PRODUCTS)
    }
}

/// What reads of the catalogue leave out: the stock holds, which only the
/// reservation reads.
pub(crate) fn without_holds() -> Document {
    doc! {"holds": 0}
}

/// Matches the products that are listed, whatever else `query` asks.
pub(crate) fn listed(mut query: Document) -> Document {
    query.insert("archived", doc! {"$ne": true});
    query
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProductDoc {
    #[serde(rename = "_id")]
    pub(crate) id: ObjectId,
    name: String,
    description: String,
    /// Exact: the price in cents.
    price_cents: i64,
    category: String,
    #[serde(default)]
    pub(crate) stock: Option<i64>,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    pub(crate) archived: bool,
    #[serde(deserialize_with = "raw_date::one")]
    created_at: bson::DateTime,
    #[serde(default, deserialize_with = "raw_date::optional")]
    updated_at: Option<bson::DateTime>,
    /// Stock held per order (see `mongo_stock`); left out of catalogue reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) holds: Vec<HoldDoc>,
}

impl From<&Product> for ProductDoc {
    fn from(p: &Product) -> Self {
        Self {
            id: p.id.object_id(),
            name: p.name.as_str().to_string(),
            description: p.description.as_str().to_string(),
            price_cents: p.price.cents(),
            category: p.category.as_str().to_string(),
            stock: p.stock.map(i64::from),
            version: Some(version_number(p.version)),
            archived: false,
            created_at: to_bson_time(p.created_at),
            updated_at: Some(to_bson_time(p.updated_at)),
            holds: Vec::new(),
        }
    }
}

fn version_number(version: u64) -> i64 {
    i64::try_from(version).unwrap_or(i64::MAX)
}

impl TryFrom<ProductDoc> for Product {
    type Error = StoreError;
    fn try_from(doc: ProductDoc) -> Result<Self, Self::Error> {
        let id = doc.id;
        let corrupt =
            |field: &str, why: String| StoreError::Corrupt(format!("product {id}: {field} {why}"));
        // MAX_STOCK bounds what a client may set; stock given back by cancelled
        // orders may lift it past that, and is still stock.
        let stock = match doc.stock {
            None => None,
            Some(units) => {
                Some(u32::try_from(units).map_err(|_| corrupt("stock", format!("is {units}")))?)
            }
        };
        let version = match doc.version {
            None => 1,
            Some(v) => u64::try_from(v)
                .ok()
                .filter(|v| *v >= 1)
                .ok_or_else(|| corrupt("version", format!("is {v}")))?,
        };
        let created_at = doc.created_at.to_time_0_3();
        Ok(Product {
            id: ProductId::from_bytes(id.bytes()),
            name: ProductName::parse(doc.name).map_err(|e| corrupt("name", e))?,
            description: Description::parse(doc.description)
                .map_err(|e| corrupt("description", e))?,
            price: Money::from_cents(doc.price_cents).map_err(|e| corrupt("priceCents", e))?,
            category: Category::parse(doc.category).map_err(|e| corrupt("category", e))?,
            stock,
            version,
            created_at,
            updated_at: doc
                .updated_at
                .map_or(created_at, bson::DateTime::to_time_0_3),
        })
    }
}

/// One order's hold on a product.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HoldDoc {
    pub(crate) order: ObjectId,
    pub(crate) quantity: i64,
    #[serde(deserialize_with = "raw_date::one")]
    pub(crate) at: bson::DateTime,
    #[serde(default)]
    pub(crate) live: bool,
}

impl TryFrom<&HoldDoc> for StockHold {
    type Error = StoreError;
    fn try_from(doc: &HoldDoc) -> Result<Self, Self::Error> {
        Ok(StockHold {
            order: OrderId::from_bytes(doc.order.bytes()),
            quantity: u32::try_from(doc.quantity)
                .map_err(|_| StoreError::Corrupt(format!("a hold of {}", doc.quantity)))?,
            at: doc.at.to_time_0_3(),
            live: doc.live,
        })
    }
}

/// The `$set` of a patch; the version moves on only when a catalog field changes.
fn patch_update(patch: &ProductPatch, expected: u64, now: OffsetDateTime) -> Document {
    let mut set = doc! {"updatedAt": to_bson_time(now)};
    if let Some(name) = &patch.name {
        set.insert("name", name.as_str());
    }
    if let Some(description) = &patch.description {
        set.insert("description", description.as_str());
    }
    if let Some(price) = patch.price {
        set.insert("priceCents", price.cents());
    }
    if let Some(category) = &patch.category {
        set.insert("category", category.as_str());
    }
    if let Some(stock) = patch.stock {
        set.insert("stock", stock.map_or(Bson::Null, |s| Bson::Int64(s.into())));
    }
    let version = if patch.changes_catalog() {
        expected.saturating_add(1)
    } else {
        expected
    };
    set.insert("version", version_number(version));
    doc! {"$set": set}
}

/// Matches a listed product at version `expected` (a document with no version
/// is at version 1).
fn at_version(id: ProductId, expected: u64) -> Document {
    let version = if expected == 1 {
        doc! {"$or": [{"version": 1_i64}, {"version": {"$exists": false}}]}
    } else {
        doc! {"version": version_number(expected)}
    };
    let mut query = listed(doc! {"_id": id.object_id()});
    query.extend(version);
    query
}

impl ProductStore for MongoStore {
    async fn insert_product(&self, product: &Product) -> StoreResult<()> {
        self.ensure_indexes().await?;
        run(self.products().insert_one(ProductDoc::from(product))).await?;
        Ok(())
    }

    async fn get_product(&self, id: ProductId) -> StoreResult<Option<Product>> {
        run(self
            .products()
            .find_one(listed(doc! {"_id": id.object_id()}))
            .projection(without_holds()))
        .await?
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
        if let Some(ids) = &filter.ids {
            let ids: Vec<ObjectId> = ids.iter().map(|id| id.object_id()).collect();
            query.insert("_id", doc! {"$in": ids});
        }
        if let Some(category) = &filter.category {
            query.insert("category", category.as_str());
        }
        find_page(&self.products(), listed(query), Some(without_holds()), page).await
    }

    async fn update_product(
        &self,
        id: ProductId,
        expected: u64,
        patch: &ProductPatch,
        now: OffsetDateTime,
    ) -> StoreResult<Updated<Product>> {
        let updated = run(self
            .products()
            .find_one_and_update(at_version(id, expected), patch_update(patch, expected, now))
            .projection(without_holds())
            .return_document(ReturnDocument::After))
        .await?;
        match updated {
            Some(doc) => Ok(Updated::Done(Product::try_from(doc)?)),
            // The write matched nothing: say why, from what is there now.
            None => Ok(match self.get_product(id).await? {
                Some(_) => Updated::Stale,
                None => Updated::Missing,
            }),
        }
    }

    async fn archive_product(&self, id: ProductId, now: OffsetDateTime) -> StoreResult<bool> {
        let update = doc! {"$set": {"archived": true, "archivedAt": to_bson_time(now)}};
        let result = run(self
            .products()
            .update_one(listed(doc! {"_id": id.object_id()}), update))
        .await?;
        Ok(result.matched_count == 1)
    }

    async fn list_categories(&self) -> StoreResult<Vec<CategoryCount>> {
        #[derive(Deserialize)]
        struct Group {
            #[serde(rename = "_id")]
            name: String,
            count: i64,
        }
        let pipeline = [
            doc! {"$match": listed(Document::new())},
            doc! {"$group": {"_id": "$category", "count": {"$sum": 1}}},
            doc! {"$sort": {"_id": 1}},
        ];
        let groups = async {
            self.products()
                .aggregate(pipeline)
                .with_type::<Group>()
                .await?
                .try_collect::<Vec<Group>>()
                .await
        };
        Ok(run(groups)
            .await?
            .into_iter()
            .map(|g| CategoryCount {
                name: g.name,
                count: u64::try_from(g.count).unwrap_or(0),
            })
            .collect())
    }
}
