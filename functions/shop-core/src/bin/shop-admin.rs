//! The operator's command: `shop-admin promote <username|email>` makes a
//! registered user an admin (`demote` makes them a customer again). It talks
//! to the database named by `MONGODB_URI` / `MONGODB_DATABASE`, like the functions.

use std::process::ExitCode;

use shop_core::config;
use shop_core::domain::Role;
use shop_core::store::UserStore;

const USAGE: &str = "usage: shop-admin <promote|demote> <username|email>

  promote   make a registered user an admin
  demote    make an admin a customer again

Reads MONGODB_URI (required) and MONGODB_DATABASE (default: shop).";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (role, login) = match args.as_slice() {
        [command, login] if command == "promote" => (Role::Admin, login),
        [command, login] if command == "demote" => (Role::Customer, login),
        [flag] if flag == "-h" || flag == "--help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let store = match config::mongo_store_from_env().await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("shop-admin: {e}");
            return ExitCode::FAILURE;
        }
    };
    match store.set_role(login, role).await {
        Ok(Some(user)) => {
            println!(
                "{} ({}) is now {}; tokens issued from now on carry this role",
                user.username.as_str(),
                user.id,
                role.as_str()
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
