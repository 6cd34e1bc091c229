//! Faults of real processes under load: the database frozen (`SIGSTOP`), killed and
//! restarted; the product function stalled and killed; the order function killed
//! between reserving stock and storing the order. Every order acknowledged with
//! 201 is stored, none twice; answers during a database fault are 503 (with
//! `Retry-After`) within 3 s; service returns within 5 s of the database; and no
//! unit of stock is lost or made up: initial stock = stock + what live orders
//! hold + open reservations.
//!
//! The time bounds are the shop's promises (its database deadline is 2 s), checked
//! with what a loaded test machine needs on top, not benchmarks.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use mongodb::bson::{Document, doc, oid::ObjectId};
use stack_tests::{
    Answer, HoldingProxy, Mongo, Options, Stack, client_from, order, send, stocked_product,
    user_token,
};

/// The pen's stock when each test starts: more than any test orders.
const INITIAL_STOCK: u32 = 100_000;
/// Orders that exist for the API (not pending, not abandoned).
fn placed() -> Document {
    doc! {"status": {"$nin": ["pending", "abandoned"]}}
}

/// The promise: a database fault is a 503 within this.
const FAULT_ANSWER: Duration = Duration::from_secs(3);
/// The promise: service returns within this of the database.
const RECOVERY: Duration = Duration::from_secs(5);

/// What one order writer saw.
#[derive(Default)]
struct Seen {
    /// Idempotency key → the order acknowledged for it.
    acknowledged: BTreeMap<String, String>,
    /// Answers that were neither 201 nor a prompt 503 with Retry-After.
    wrong: Vec<String>,
    /// 503s answered.
    unavailable: usize,
    /// The longest a 503 took.
    slowest_503: Duration,
}

/// Places orders one after another until `stop`, each under a fresh key, retrying a
/// key after a 503 or a 409 (the first attempt may still hold it) until it is
/// acknowledged.
async fn writer(
    stack: Arc<Stack>,
    token: String,
    product: String,
    name: &'static str,
    stop: Arc<AtomicBool>,
) -> Seen {
    let client = client_from("127.0.0.1");
    let mut seen = Seen::default();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let key = format!("{name}-{n}");
        loop {
            let answer = order(&stack, &client, &token, &product, 1, Some(&key)).await;
            match answer.status {
                201 => {
                    let id = answer.body["id"].as_str().unwrap_or_default().to_owned();
                    seen.acknowledged.insert(key.clone(), id);
                    break;
                }
                503 if answer.took <= FAULT_ANSWER && answer.header("retry-after").is_some() => {
                    seen.unavailable += 1;
                    seen.slowest_503 = seen.slowest_503.max(answer.took);
                }
                409 => {}
                _ => seen.wrong.push(describe(&answer)),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            if stop.load(Ordering::SeqCst) && answer.status != 409 && answer.status != 503 {
                break;
            }
        }
    }
    seen
}

/// One line of figures for the test's output (`--nocapture`).
fn report(fault: &str, seen: &[Seen]) {
    let acknowledged: usize = seen.iter().map(|w| w.acknowledged.len()).sum();
    let unavailable: usize = seen.iter().map(|w| w.unavailable).sum();
    let slowest = seen.iter().map(|w| w.slowest_503).max().unwrap_or_default();
    println!(
        "{fault}: {acknowledged} orders acknowledged, {unavailable} answered 503 (slowest {} ms)",
        slowest.as_millis()
    );
}

fn describe(answer: &Answer) -> String {
    format!(
        "{} after {} ms: {}",
        answer.status,
        answer.took.as_millis(),
        answer.text
    )
}

/// Every acknowledged order is stored, exactly once per key.
async fn assert_every_acknowledged_order_is_stored_once(stack: &Stack, seen: &[Seen]) {
    let db = stack.db().await;
    let orders = db.collection::<Document>("orders");
    let mut acknowledged = BTreeSet::new();
    for writer in seen {
        for (key, id) in &writer.acknowledged {
            let oid = ObjectId::parse_str(id).expect("an order id");
            let stored = orders.count_documents(doc! {"_id": oid}).await.unwrap();
            assert_eq!(
                stored, 1,
                "order {id} (key {key}) acknowledged but not stored"
            );
            let claims = orders
                .count_documents(doc! {"idempotency.key": key})
                .await
                .unwrap();
            let held = orders
                .count_documents(doc! {"_id": oid, "idempotency.key": key})
                .await
                .unwrap();
            assert_eq!(
                held, 1,
                "key {key} is not held by its acknowledged order {id}"
            );
            assert_eq!(claims, 1, "key {key} claimed {claims} times");
            acknowledged.insert(id.clone());
        }
    }
    // No order stored that was not acknowledged (no key made two orders): every
    // writer retried each key until it was acknowledged.
    let total = orders.count_documents(placed()).await.unwrap();
    assert_eq!(
        total as usize,
        acknowledged.len(),
        "orders stored twice or orphaned"
    );
}

/// The stock invariant: the pen's initial stock is its stock now, plus what the
/// live (placed, not cancelled) orders hold of it, plus what reservations whose
/// order is not live (pending, abandoned: their release failed with the fault)
/// still hold. Nothing lost, nothing made up.
async fn assert_no_stock_lost_or_made_up(stack: &Stack, pen: &str) {
    let db = stack.db().await;
    let pen = ObjectId::parse_str(pen).expect("a product id");
    let product = db
        .collection::<Document>("products")
        .find_one(doc! {"_id": pen})
        .await
        .unwrap()
        .expect("the pen");
    let stock = product.get_i32("stock").map_or_else(
        |_| product.get_i64("stock").expect("tracked stock"),
        i64::from,
    );
    let orders = db.collection::<Document>("orders");
    let mut live = 0;
    let mut cursor = orders
        .find(doc! {"status": {"$in": ["created", "paid", "shipped", "delivered"]}})
        .await
        .unwrap();
    let mut live_ids = BTreeSet::new();
    while cursor.advance().await.unwrap() {
        let order = cursor.deserialize_current().unwrap();
        live_ids.insert(order.get_object_id("_id").unwrap());
        for line in order.get_array("products").unwrap() {
            let line = line.as_document().unwrap();
            if line.get_object_id("productId").unwrap() == pen {
                live += line.get_i64("quantity").unwrap();
            }
        }
    }
    let mut open = 0;
    for hold in product
        .get_array("holds")
        .map(|h| h.to_vec())
        .unwrap_or_default()
    {
        let hold = hold.as_document().unwrap().clone();
        if !live_ids.contains(&hold.get_object_id("order").unwrap()) {
            open += hold.get_i64("quantity").unwrap();
        }
    }
    println!("stock: {stock} + live orders {live} + open reservations {open} = {INITIAL_STOCK}?");
    assert_eq!(stock + live + open, i64::from(INITIAL_STOCK));
}

/// Sends `GET /products` until it answers 200, and says how long that took.
async fn time_to_recover(stack: &Stack) -> Duration {
    let client = client_from("127.0.0.1");
    let started = Instant::now();
    loop {
        let answer = send(&client, "GET", &stack.url("/products"), None, None, &[]).await;
        if answer.status == 200 {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the shop did not come back: {}",
            describe(&answer)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A stack on a database of its own, an admin, a product and four buyers.
async fn shop_on(mongo: &Mongo, options: Options) -> (Arc<Stack>, String, Vec<String>) {
    let stack = Arc::new(Stack::on(&mongo.uri(), options));
    let admin = user_token(&stack, "fault_admin", true).await;
    let pen = stocked_product(&stack, &admin, "Pen", INITIAL_STOCK).await;
    let mut buyers = Vec::new();
    for i in 0..4 {
        buyers.push(user_token(&stack, &format!("fault_buyer_{i}"), false).await);
    }
    (stack, pen, buyers)
}

async fn run_writers(
    stack: &Arc<Stack>,
    pen: &str,
    buyers: &[String],
    fault: impl std::future::Future<Output = ()>,
) -> Vec<Seen> {
    const NAMES: [&str; 4] = ["a", "b", "c", "d"];
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = buyers
        .iter()
        .zip(NAMES)
        .map(|(token, name)| {
            tokio::spawn(writer(
                stack.clone(),
                token.clone(),
                pen.to_owned(),
                name,
                stop.clone(),
            ))
        })
        .collect();
    fault.await;
    stop.store(true, Ordering::SeqCst);
    let mut seen = Vec::new();
    for w in writers {
        seen.push(w.await.expect("a writer"));
    }
    seen
}

#[tokio::test]
async fn a_frozen_database_gives_prompt_503s_and_loses_no_acknowledged_order() {
    let mongo = Mongo::start();
    let (stack, pen, buyers) = shop_on(&mongo, Options::default()).await;
    let probe = client_from("127.0.0.1");
    let seen = run_writers(&stack, &pen, &buyers, async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        mongo.freeze();
        // Reads during the freeze: 503 with Retry-After within the promise.
        let frozen_at = Instant::now();
        while frozen_at.elapsed() < Duration::from_secs(8) {
            let answer = send(&probe, "GET", &stack.url("/products"), None, None, &[]).await;
            assert_eq!(answer.status, 503, "{}", describe(&answer));
            assert!(answer.took <= FAULT_ANSWER, "{}", describe(&answer));
            assert_eq!(answer.header("retry-after"), Some("2"));
        }
        mongo.thaw();
        let back = time_to_recover(&stack).await;
        assert!(
            back <= RECOVERY,
            "service came back {back:?} after the database"
        );
        println!(
            "frozen: service back {} ms after the database",
            back.as_millis()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    })
    .await;
    report("frozen", &seen);
    assert_no_unexpected_answer(&seen);
    assert!(
        seen.iter().any(|w| w.unavailable > 0),
        "the freeze was never seen"
    );
    assert!(seen.iter().all(|w| !w.acknowledged.is_empty()));
    assert_every_acknowledged_order_is_stored_once(&stack, &seen).await;
    assert_no_stock_lost_or_made_up(&stack, &pen).await;
}

#[tokio::test]
async fn a_killed_and_restarted_database_loses_no_acknowledged_order() {
    let mut mongo = Mongo::start();
    let (stack, pen, buyers) = shop_on(&mongo, Options::default()).await;
    let probe = client_from("127.0.0.1");
    let mongo_ref = &mut mongo;
    let seen = run_writers(&stack, &pen, &buyers, async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        mongo_ref.kill();
        let killed_at = Instant::now();
        while killed_at.elapsed() < Duration::from_secs(4) {
            let answer = send(&probe, "GET", &stack.url("/products"), None, None, &[]).await;
            assert_eq!(answer.status, 503, "{}", describe(&answer));
            assert!(answer.took <= FAULT_ANSWER, "{}", describe(&answer));
        }
        mongo_ref.restart();
        let back = time_to_recover(&stack).await;
        assert!(
            back <= RECOVERY,
            "service came back {back:?} after the database"
        );
        println!(
            "killed: service back {} ms after the restart",
            back.as_millis()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    })
    .await;
    report("killed", &seen);
    assert_no_unexpected_answer(&seen);
    assert_every_acknowledged_order_is_stored_once(&stack, &seen).await;
    assert_no_stock_lost_or_made_up(&stack, &pen).await;
}

#[tokio::test]
async fn a_stalled_then_dead_product_function_stores_no_order_and_comes_back() {
    let mongo = Mongo::start();
    // One instance per function: a stalled product function has no other to
    // answer in its place.
    let (stack, pen, buyers) = shop_on(
        &mongo,
        Options {
            args: vec!["--max-concurrency".into(), "1".into()],
            ..Options::default()
        },
    )
    .await;
    let client = client_from("127.0.0.1");
    // The product function runs (one instance, warm).
    assert_eq!(
        order(&stack, &client, &buyers[0], &pen, 1, None)
            .await
            .status,
        201
    );
    let instances = stack.instances("stock-reserve");
    assert!(!instances.is_empty());
    // Stalled: the pricing call gets no answer.
    for pid in &instances {
        stack_tests::signal(*pid, "STOP");
    }
    let before = stack
        .db()
        .await
        .collection::<Document>("orders")
        .count_documents(placed())
        .await
        .unwrap();
    let stalled = order(&stack, &client, &buyers[1], &pen, 1, Some("stalled")).await;
    assert_eq!(stalled.status, 503, "{}", describe(&stalled));
    assert!(stalled.took <= FAULT_ANSWER, "{}", describe(&stalled));
    // Dead: the runner starts a fresh instance for the next call.
    for pid in &instances {
        stack_tests::signal(*pid, "KILL");
    }
    let after = order(&stack, &client, &buyers[1], &pen, 1, Some("stalled")).await;
    assert_eq!(after.status, 201, "{}", describe(&after));
    let total = stack
        .db()
        .await
        .collection::<Document>("orders")
        .count_documents(placed())
        .await
        .unwrap();
    assert_eq!(total, before + 1, "the stalled attempt stored an order");
    assert_no_stock_lost_or_made_up(&stack, &pen).await;
}

/// Orders `quantity` pens as `buyer` and kills the order function once the
/// product function has reserved the stock, before its answer arrives: the
/// order is left pending, its stock held. Answers the pending order's id.
async fn kill_between_reserving_and_storing(
    stack: &Arc<Stack>,
    proxy: &HoldingProxy,
    buyer: &str,
    pen: &str,
    quantity: u32,
    key: &str,
) -> ObjectId {
    proxy.hold_next_answer();
    let placing = {
        let (stack, buyer, pen, key) = (
            stack.clone(),
            buyer.to_owned(),
            pen.to_owned(),
            key.to_owned(),
        );
        tokio::spawn(async move {
            let client = client_from("127.0.0.1");
            order(&stack, &client, &buyer, &pen, quantity, Some(&key)).await
        })
    };
    tokio::time::timeout(Duration::from_secs(30), proxy.held())
        .await
        .expect("the reservation was answered");
    let instances = stack.instances("orders-create");
    assert!(!instances.is_empty(), "no orders-create instance");
    for pid in instances {
        stack_tests::signal(pid, "KILL");
    }
    let answer = placing.await.expect("the order request");
    assert_eq!(answer.status, 502, "{}", describe(&answer));
    let pending: Vec<Document> = stack
        .db()
        .await
        .collection::<Document>("orders")
        .find(doc! {"status": "pending"})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pending.len(), 1, "one order left pending: {pending:?}");
    let id = pending[0].get_object_id("_id").unwrap();
    assert_eq!(held_for(stack, pen, id).await, Some(i64::from(quantity)));
    id
}

/// What the pen holds for order `id`, if anything.
async fn held_for(stack: &Stack, pen: &str, id: ObjectId) -> Option<i64> {
    let product = stack
        .db()
        .await
        .collection::<Document>("products")
        .find_one(doc! {"_id": ObjectId::parse_str(pen).unwrap()})
        .await
        .unwrap()
        .expect("the pen");
    product
        .get_array("holds")
        .ok()?
        .iter()
        .filter_map(|h| h.as_document())
        .find(|h| h.get_object_id("order").ok() == Some(id))
        .map(|h| h.get_i64("quantity").unwrap())
}

async fn status_of(stack: &Stack, id: ObjectId) -> String {
    let order = stack
        .db()
        .await
        .collection::<Document>("orders")
        .find_one(doc! {"_id": id})
        .await
        .unwrap()
        .expect("the order");
    order.get_str("status").unwrap().to_owned()
}

#[tokio::test]
async fn an_order_function_killed_between_reserving_and_storing_loses_no_stock() {
    // The order function reaches the product function through a proxy that can
    // hold back the reservation's answer; stale is one second old here.
    let proxy = HoldingProxy::start().await;
    let stack = Arc::new(Stack::start(Options {
        env: vec![
            format!("PRODUCTS_API_URL={}", proxy.url()),
            "RESERVATION_TTL_SECONDS=1".into(),
        ],
        ..Options::default()
    }));
    proxy.forward_to(stack.port);

    let admin = user_token(&stack, "crash_admin", true).await;
    let pen = stocked_product(&stack, &admin, "Pen", INITIAL_STOCK).await;
    let buyer = user_token(&stack, "crash_buyer", false).await;
    let client = client_from("127.0.0.1");
    let warm = order(&stack, &client, &buyer, &pen, 1, None).await;
    assert_eq!(warm.status, 201, "{}\n{}", describe(&warm), stack.log());

    // Killed, then retried with the same key: once the dead request's claim has
    // expired, the retry carries on with the pending order and its reservation
    // (taken once), and stores it.
    let first =
        kill_between_reserving_and_storing(&stack, &proxy, &buyer, &pen, 2, "crash-1").await;
    let retried_at = Instant::now();
    let stored = loop {
        let answer = order(&stack, &client, &buyer, &pen, 2, Some("crash-1")).await;
        match answer.status {
            201 => break answer,
            409 if answer.body["type"]
                .as_str()
                .is_some_and(|t| t.ends_with("idempotency-in-progress")) => {}
            _ => panic!("{}", describe(&answer)),
        }
        assert!(
            retried_at.elapsed() < Duration::from_secs(30),
            "the claim never expired"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert_eq!(stored.body["id"].as_str(), Some(first.to_hex().as_str()));
    assert_eq!(status_of(&stack, first).await, "created");
    assert_no_stock_lost_or_made_up(&stack, &pen).await;

    // Killed, then released by the next reservation of the pen once stale; the
    // dead order can never be stored after.
    let second =
        kill_between_reserving_and_storing(&stack, &proxy, &buyer, &pen, 3, "crash-2").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        order(&stack, &client, &buyer, &pen, 1, None).await.status,
        201
    );
    assert_eq!(status_of(&stack, second).await, "abandoned");
    assert_eq!(held_for(&stack, &pen, second).await, None);
    assert_no_stock_lost_or_made_up(&stack, &pen).await;

    // Killed, then released by `shop-admin reconcile`.
    let third =
        kill_between_reserving_and_storing(&stack, &proxy, &buyer, &pen, 4, "crash-3").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stack.reconcile(1);
    assert_eq!(status_of(&stack, third).await, "abandoned");
    assert_eq!(held_for(&stack, &pen, third).await, None);
    assert_no_stock_lost_or_made_up(&stack, &pen).await;
}

fn assert_no_unexpected_answer(seen: &[Seen]) {
    for writer in seen {
        assert!(
            writer.wrong.is_empty(),
            "unexpected answers: {:?}",
            writer.wrong
        );
    }
}
