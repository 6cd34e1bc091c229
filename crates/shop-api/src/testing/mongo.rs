//! A database of its own for each test, dropped afterwards.

use shop_store::MongoStore;

/// The server under test. Tests that need MongoDB fail with this message
/// rather than pass silently without one.
pub fn uri() -> String {
    std::env::var("MONGODB_URI").unwrap_or_else(|_| {
        panic!("MONGODB_URI is not set: run the tests with scripts/test, which starts a server")
    })
}

pub struct TestDb {
    pub store: MongoStore,
    name: String,
}

impl TestDb {
    pub async fn new() -> Self {
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let store = MongoStore::connect(&uri(), &name)
            .await
            .expect("MONGODB_URI parses");
        Self { store, name }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDb {
    /// Drops the database from a thread of its own (Drop cannot await), with a
    /// client of its own so the test's runtime may already be gone.
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let client = mongodb::Client::with_uri_str(uri()).await?;
                client.database(&name).drop().await
            })?;
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
    }
}
