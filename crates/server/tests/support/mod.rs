//! Accounts for the in-process API tests: an engine over the test store with
//! no limits, and an admin's API key to call protected routes with.
#![allow(dead_code)]

use std::sync::Arc;

use ntsb_auth::{Auth, AuthConfig, HashCost, MemoryCounters, Quotas, Role, SigningSecret, SystemClock, Tier};
use ntsb_server::AppState;
use ntsb_store::Accounts;

/// An engine with every limit off and the cheapest password hashing.
pub fn engine(accounts: Arc<dyn Accounts>) -> Auth {
    let clock = Arc::new(SystemClock);
    let open = Tier { daily: 0, per_second: 0 };
    let config = AuthConfig {
        hash_cost: HashCost::TEST,
        quotas: Quotas { anonymous: open, free: open, premium: open, admin: open },
        ..AuthConfig::default()
    };
    Auth::new(
        accounts,
        Arc::new(MemoryCounters::new(clock.clone())),
        clock,
        SigningSecret::ephemeral().unwrap(),
        config,
    )
    .unwrap()
}

/// Makes a user with `role` and an API key for it (on a thread of its own, so
/// it can be called from inside a test's runtime).
pub fn key_for(auth: &Auth, email: &str, role: Role) -> String {
    let auth = auth.clone();
    let email = email.to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        rt.block_on(async {
            let user = auth.create_user(&email, "blue-Heron-7-ladder", role).await.unwrap();
            auth.create_key_for(user.id, "tests").await.unwrap().key
        })
    })
    .join()
    .unwrap()
}

/// `state` with accounts over `accounts`, and an admin key.
pub fn authenticated(state: AppState, accounts: Arc<dyn Accounts>) -> (AppState, String) {
    let auth = engine(accounts);
    let key = key_for(&auth, "admin@example.org", Role::Admin);
    (state.with_auth(auth), key)
}
