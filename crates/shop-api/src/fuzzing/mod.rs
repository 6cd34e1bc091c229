//! Entry points for the cargo-fuzz targets in `fuzz/` (feature `fuzzing`).
//!
//! The body parsers of the handlers stay private: a fuzzer reaches them the way a
//! client does, by sending a request body through the real handler, here with the
//! in-memory store of [`crate::testing`]. Every input runs against a fresh store
//! holding the same two users and three products, so an input's answer depends on
//! the input alone (libFuzzer can reproduce it, and no rate limit ever fills up).

use tokio::runtime::Runtime;

mod oracle;

pub use oracle::PRODUCTS;
use oracle::{
    check_created_order, check_created_product, json_object, login_is_valid, registration_is_valid,
};

use crate::auth::hash_password;
use crate::testing::{PASSWORD, ShopApp, TestResponse, bearer, json_headers};
use shop_domain::money::Money;
use shop_domain::{
    Category, Description, Email, Product, ProductId, ProductName, Role, User, UserId, Username,
    now,
};
use shop_store::{MemoryStore, ProductStore, UserStore};

/// The endpoints whose request bodies are fuzzed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /users/register`.
    Register,
    /// `POST /users/login`.
    Login,
    /// `POST /products`, as an admin.
    Products,
    /// `POST /orders`, as a customer.
    Orders,
}

impl Endpoint {
    /// Picks the endpoint from an input's first byte: `r`, `l`, `p` and `o` by
    /// name, so that a seed file reads as `o{"products": …}`; any other byte by
    /// its value, so that every input reaches some endpoint.
    pub fn from_byte(byte: u8) -> Self {
        match byte {
            b'r' => Endpoint::Register,
            b'l' => Endpoint::Login,
            b'p' => Endpoint::Products,
            b'o' => Endpoint::Orders,
            other => [
                Endpoint::Register,
                Endpoint::Login,
                Endpoint::Products,
                Endpoint::Orders,
            ][usize::from(other % 4)],
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Register => "/users/register",
            Endpoint::Login => "/users/login",
            Endpoint::Products => "/products",
            Endpoint::Orders => "/orders",
        }
    }
}

/// What a handler answered.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub text: String,
}

/// Sends fuzzed bodies through the real handlers.
pub struct BodyFuzzer {
    runtime: Runtime,
    admin: User,
    customer: User,
    products: Vec<Product>,
}

impl BodyFuzzer {
    /// A current-thread runtime and the fixture's users and products. The one
    /// password hash is computed here, once.
    pub fn new() -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("no tokio runtime: {e}"))?;
        let hash = runtime
            .block_on(hash_password(PASSWORD))
            .map_err(|e| format!("hashing the fixture password failed: {e}"))?;
        let admin = user("fuzz-admin", Role::Admin, &hash)?;
        let customer = user("fuzz-customer", Role::Customer, &hash)?;
        let products = PRODUCTS
            .iter()
            .map(|(id, price)| product(id, price))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            runtime,
            admin,
            customer,
            products,
        })
    }

    /// Sends `body` as JSON to `endpoint` on a fresh store, or `None` when the
    /// input is skipped.
    ///
    /// Register and login hash or verify a password with Argon2 (some 20 ms each)
    /// once a body passes validation; at that speed the fuzzer would spend its time
    /// hashing. So a body that the endpoint's validation accepts is not sent there:
    /// what is fuzzed is the validation, which is where a hostile body is read. The
    /// check repeats the handler's own rules with the same public building blocks
    /// (`Object`, `string`, the domain types); should the two ever differ, the cost
    /// is a slow input or one skipped, never a false alarm.
    pub fn send(&self, endpoint: Endpoint, body: &str) -> Option<Answer> {
        let skipped = match endpoint {
            Endpoint::Register => registration_is_valid(body),
            Endpoint::Login => login_is_valid(body),
            Endpoint::Products | Endpoint::Orders => false,
        };
        if skipped {
            return None;
        }
        Some(self.runtime.block_on(self.call(endpoint, body)))
    }

    async fn call(&self, endpoint: Endpoint, body: &str) -> Answer {
        let store = self.fresh_store().await;
        let app = ShopApp::new(&store);
        let caller = match endpoint {
            Endpoint::Products => Some(&self.admin),
            Endpoint::Orders => Some(&self.customer),
            Endpoint::Register | Endpoint::Login => None,
        };
        // Issued for each call, so that a run longer than a token's life still
        // reaches the handlers behind the authentication.
        let token = caller.and_then(|user| app.tokens.issue(user).ok());
        let auth = bearer(token.as_deref());
        let response = app
            .call("POST", endpoint.path(), &json_headers(&auth), Some(body))
            .await;
        answer(response)
    }

    /// A store with the fixture's users and products, and nothing else.
    async fn fresh_store(&self) -> MemoryStore {
        let store = MemoryStore::new();
        for user in [&self.admin, &self.customer] {
            // A new in-memory store is online and empty: these cannot fail.
            let _ = store.insert_user(user).await;
        }
        for product in &self.products {
            let _ = store.insert_product(product).await;
        }
        store
    }
}

fn user(name: &str, role: Role, hash: &str) -> Result<User, String> {
    Ok(User {
        id: UserId::new(),
        username: Username::parse(name.into())?,
        email: Email::parse(format!("{name}@example.com"))?,
        password_hash: hash.into(),
        role,
        disabled: false,
        token_generation: 0,
        created_at: now(),
    })
}

fn product(id: &str, price: &str) -> Result<Product, String> {
    Ok(Product {
        id: ProductId::parse(id)?,
        name: ProductName::parse(format!("product {id}"))?,
        description: Description::parse(String::new())?,
        price: Money::parse(price)?,
        category: Category::parse("fuzz".into())?,
        stock: None,
        version: 1,
        created_at: now(),
        updated_at: now(),
    })
}

fn answer(response: TestResponse) -> Answer {
    Answer {
        status: response.status,
        content_type: response.header("content-type").map(str::to_owned),
        text: response.text,
    }
}

impl Answer {
    /// What the API promises for any body: never a 5xx (the store is up and the
    /// catalogue answers), every 4xx a problem+json object carrying its status,
    /// every 2xx JSON, and a created product or order priced exactly.
    pub fn check(&self, endpoint: Endpoint, body: &str) -> Result<(), String> {
        match self.status {
            400..=499 => self.check_problem(),
            200..=299 => {
                self.expect_type("application/json")?;
                match endpoint {
                    Endpoint::Products => check_created_product(body, &self.text),
                    Endpoint::Orders => check_created_order(&self.text),
                    Endpoint::Register | Endpoint::Login => json_object(&self.text).map(drop),
                }
            }
            status => Err(format!("status {status}: {}", self.text)),
        }
    }

    fn expect_type(&self, expected: &str) -> Result<(), String> {
        match self.content_type.as_deref() {
            Some(found) if found == expected => Ok(()),
            found => Err(format!(
                "status {} with content-type {found:?}, not {expected}",
                self.status
            )),
        }
    }

    fn check_problem(&self) -> Result<(), String> {
        self.expect_type("application/problem+json")?;
        let problem = json_object(&self.text)?;
        match problem.get("status").and_then(serde_json::Value::as_u64) {
            Some(status) if status == u64::from(self.status) => Ok(()),
            other => Err(format!(
                "a {} problem says its status is {other:?}",
                self.status
            )),
        }
    }
}
