//! Products in MongoDB.

use mongodb::Collection;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{self, Document, doc};
use serde::{Deserialize, Serialize};

use crate::mongo::{AsObjectId, PRODUCTS, find_page, run, to_bson_time};
use crate::{MongoStore, ProductFilter, ProductStore, StoreError, StoreResult};
use shop_domain::money::Money;
use shop_domain::paging::PageParams;
use shop_domain::{Category, Description, Product, ProductId, ProductName};

impl MongoStore {
    fn products(&self) -> Collection<ProductDoc> {
        self.database().collection(PRODUCTS)
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
            id: ProductId::from_bytes(id.bytes()),
            name: ProductName::parse(doc.name).map_err(|e| corrupt("name", e))?,
            description: Description::parse(doc.description)
                .map_err(|e| corrupt("description", e))?,
            price: Money::from_cents(doc.price_cents).map_err(|e| corrupt("priceCents", e))?,
            category: Category::parse(doc.category).map_err(|e| corrupt("category", e))?,
            created_at: doc.created_at.to_time_0_3(),
        })
    }
}

impl ProductStore for MongoStore {
    async fn insert_product(&self, product: &Product) -> StoreResult<()> {
        self.ensure_indexes().await?;
        run(self.products().insert_one(ProductDoc::from(product))).await?;
        Ok(())
    }

    async fn get_product(&self, id: ProductId) -> StoreResult<Option<Product>> {
        run(self.products().find_one(doc! {"_id": id.object_id()}))
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
        find_page(&self.products(), query, page).await
    }
}
