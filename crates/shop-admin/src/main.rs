//! The operator's command: `shop-admin promote|demote|disable|enable <username|email>`,
//! and `shop-admin reconcile`, which releases the stock of orders that were never
//! stored.
//! It talks to the database named by `MONGODB_URI` / `MONGODB_DATABASE`, like the
//! functions, and each change takes effect on the user's next request, whatever
//! tokens they hold.

use std::process::ExitCode;

use shop_api::config;
use shop_api::stock::ledger::reconcile_all;
use shop_domain::{Role, User, now};
use shop_store::{MongoStore, StoreResult, UserStore};

const USAGE: &str = "usage: shop-admin <promote|demote|disable|enable> <username|email>
       shop-admin reconcile

  promote   make a registered user an admin
  demote    make an admin a customer again
  disable   switch a user off: their tokens and logins are refused (401)
  enable    switch a disabled user on again
  reconcile release the stock held for orders that were never stored (older
            than RESERVATION_TTL_SECONDS, default 900) or were cancelled, and
            forget the holds of shipped orders

Reads MONGODB_URI (required) and MONGODB_DATABASE (default: shop).";

#[derive(Clone, Copy)]
enum Change {
    Role(Role),
    Disabled(bool),
}

impl Change {
    async fn apply(self, store: &MongoStore, login: &str) -> StoreResult<Option<User>> {
        match self {
            Change::Role(role) => store.set_role(login, role).await,
            Change::Disabled(disabled) => store.set_disabled(login, disabled).await,
        }
    }

    fn outcome(self) -> &'static str {
        match self {
            Change::Role(Role::Admin) => "now an admin",
            Change::Role(Role::Customer) => "now a customer",
            Change::Disabled(true) => "disabled: their tokens and logins are refused",
            Change::Disabled(false) => "enabled again",
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args == ["reconcile"] {
        return reconcile().await;
    }
    let (change, login) = match args.as_slice() {
        [command, login] => match command.as_str() {
            "promote" => (Change::Role(Role::Admin), login),
            "demote" => (Change::Role(Role::Customer), login),
            "disable" => (Change::Disabled(true), login),
            "enable" => (Change::Disabled(false), login),
            _ => return usage(),
        },
        [flag] if flag == "-h" || flag == "--help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => return usage(),
    };
    let store = match config::mongo_store_from_env().await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("shop-admin: {e}");
            return ExitCode::FAILURE;
        }
    };
    match change.apply(&store, login).await {
        Ok(Some(user)) => {
            println!(
                "{} ({}) is {}; this takes effect on their next request",
                user.username.as_str(),
                user.id,
                change.outcome()
            );
            ExitCode::SUCCESS
        }
        Ok(None) => {
            eprintln!("shop-admin: no registered user is called {login:?}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("shop-admin: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `shop-admin reconcile`: one sweep of every stale stock hold.
async fn reconcile() -> ExitCode {
    let ttl = match config::reservation_ttl_from_env() {
        Ok(ttl) => ttl,
        Err(e) => {
            eprintln!("shop-admin: {e}");
            return ExitCode::FAILURE;
        }
    };
    let store = match config::mongo_store_from_env().await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("shop-admin: {e}");
            return ExitCode::FAILURE;
        }
    };
    match reconcile_all(&store, ttl, now()).await {
        Ok(sweep) => {
            println!(
                "abandoned {} pending orders; released {} holds, settled {}, kept {} of live orders",
                sweep.abandoned_orders, sweep.released, sweep.settled, sweep.kept
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("shop-admin: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}
