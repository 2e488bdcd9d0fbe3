//! The engine end to end over a real (in-memory SQLite) store and a manual
//! clock: sessions, rotation and reuse, lockout, keys, resets, quotas, audit.

use std::sync::Arc;

use ntsb_auth::{
    AuditQuery, Auth, AuthConfig, Error, HashCost, ManualClock, MemoryCounters, Principal, ResetDelivery, Role,
    SigningSecret, Subject, Tier, Via,
};
use ntsb_store::Store;
use ntsb_store::sqlite::SqliteStore;

const PW: &str = "blue-Heron-7-ladder";
const IP: &str = "192.0.2.7";
const T0: i64 = 1_800_000_000;

struct Env {
    auth: Auth,
    clock: Arc<ManualClock>,
}

fn env_with(tune: impl FnOnce(&mut AuthConfig)) -> Env {
    env_full(tune, None)
}

fn env_full(tune: impl FnOnce(&mut AuthConfig), delivery: Option<Arc<dyn ResetDelivery>>) -> Env {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    store.migrate().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let mut config = AuthConfig { hash_cost: HashCost::TEST, ..AuthConfig::default() };
    tune(&mut config);
    let secret = SigningSecret::new(vec![9u8; 32], "test").unwrap();
    let mut auth =
        Auth::new(store, Arc::new(MemoryCounters::new(clock.clone())), clock.clone(), secret, config).unwrap();
    if let Some(d) = delivery {
        auth = auth.with_reset_delivery(d);
    }
    Env { auth, clock }
}

fn env() -> Env {
    env_with(|_| {})
}

#[derive(Debug, Default)]
struct Mailbox(std::sync::Mutex<Vec<(String, String)>>);

impl ResetDelivery for Mailbox {
    fn deliver(&self, email: &str, token: &str, _expires_at: i64) -> ntsb_auth::Result<()> {
        self.0.lock().unwrap().push((email.to_string(), token.to_string()));
        Ok(())
    }
}

async fn session(e: &Env, email: &str) -> (Principal, ntsb_auth::TokenPair) {
    let t = e.auth.login(email, PW, IP).await.expect("login");
    (e.auth.authenticate_bearer(&t.access_token).await.expect("bearer"), t)
}

#[tokio::test(flavor = "multi_thread")]
async fn register_login_and_me() {
    let e = env();
    let acct = e.auth.register("Pilot@Example.org", PW, IP).await.unwrap();
    assert_eq!((acct.email.as_str(), acct.role), ("pilot@example.org", Role::Free));
    let (who, t) = session(&e, "pilot@example.org").await;
    assert_eq!((t.token_type, t.expires_in), ("Bearer", 3600));
    assert_eq!(who.role, Role::Free);
    assert!(matches!(who.via, Via::Session(_)));
    assert!(matches!(e.auth.register("pilot@example.org", PW, IP).await, Err(Error::Conflict)));
    assert!(matches!(
        e.auth.register("x@example.org", "short", IP).await,
        Err(Error::InvalidInput { field: "password", .. })
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_can_be_closed() {
    let e = env_with(|c| c.registration_open = false);
    assert!(matches!(e.auth.register("a@example.org", PW, IP).await, Err(Error::RegistrationClosed)));
    e.auth.create_user("a@example.org", PW, Role::Admin).await.expect("operators still create accounts");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_user_and_wrong_password_get_the_same_error() {
    let e = env();
    e.auth.register("a@example.org", PW, IP).await.unwrap();
    let unknown = e.auth.login("nobody@example.org", PW, IP).await.unwrap_err();
    let wrong = e.auth.login("a@example.org", "wrong-password-123", IP).await.unwrap_err();
    assert_eq!(unknown.to_string(), wrong.to_string());
    assert!(matches!((unknown, wrong), (Error::InvalidCredentials, Error::InvalidCredentials)));
}

#[tokio::test(flavor = "multi_thread")]
async fn access_tokens_expire_after_an_hour() {
    let e = env();
    e.auth.register("a@example.org", PW, IP).await.unwrap();
    let (_, t) = session(&e, "a@example.org").await;
    e.clock.advance(3599);
    assert!(e.auth.authenticate_bearer(&t.access_token).await.is_ok());
    e.clock.advance(1);
    assert!(matches!(e.auth.authenticate_bearer(&t.access_token).await, Err(Error::Unauthenticated("expired token"))));
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_rotates_and_a_replayed_token_revokes_the_session() {
    let e = env();
    e.auth.register("a@example.org", PW, IP).await.unwrap();
    let (_, t1) = session(&e, "a@example.org").await;
    let t2 = e.auth.refresh(&t1.refresh_token, IP).await.unwrap();
    assert_ne!(t2.refresh_token, t1.refresh_token);
    assert!(e.auth.authenticate_bearer(&t2.access_token).await.is_ok());
    // The thief replays t1: the whole family dies, t2 included.
    assert!(matches!(e.auth.refresh(&t1.refresh_token, IP).await, Err(Error::Unauthenticated("refresh token reused"))));
    assert!(e.auth.refresh(&t2.refresh_token, IP).await.is_err());
    assert!(e.auth.authenticate_bearer(&t2.access_token).await.is_err(), "access tokens of the session die too");
    let audit = e
        .auth
        .audit_events(AuditQuery { event: Some("refresh_reuse".into()), limit: 10, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_tokens_expire_after_30_days() {
    let e = env();
    e.auth.register("a@example.org", PW, IP).await.unwrap();
    let (_, t) = session(&e, "a@example.org").await;
    e.clock.advance(30 * 24 * 3600);
    assert!(e.auth.refresh(&t.refresh_token, IP).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_ends_the_session_and_its_access_token() {
    let e = env();
    e.auth.register("a@example.org", PW, IP).await.unwrap();
    let (who, t) = session(&e, "a@example.org").await;
    e.auth.logout(&who, IP).await.unwrap();
    assert!(e.auth.authenticate_bearer(&t.access_token).await.is_err());
    assert!(e.auth.refresh(&t.refresh_token, IP).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn five_logins_a_minute_per_account_then_429() {
    let e = env();
    e.auth.register("a@example.org", PW, IP).await.unwrap();
    for i in 0..5 {
        let ip = format!("198.51.100.{i}");
        assert!(e.auth.login("a@example.org", PW, &ip).await.is_ok());
    }
    match e.auth.login("a@example.org", PW, "198.51.100.99").await {
        Err(Error::RateLimited(l)) => assert_eq!((l.limit, l.remaining, l.reset), (5, 0, 60)),
        other => panic!("{other:?}"),
    }
    e.clock.advance(60);
    assert!(e.auth.login("a@example.org", PW, "198.51.100.99").await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn five_logins_a_minute_per_address_then_429() {
    let e = env();
    for i in 0..5 {
        let _ = e.auth.login(&format!("u{i}@example.org"), PW, IP).await;
    }
    assert!(matches!(e.auth.login("u9@example.org", PW, IP).await, Err(Error::RateLimited(_))));
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_failures_lock_the_account_for_15_minutes() {
    let e = env();
    e.auth.register("a@example.org", PW, IP).await.unwrap();
    for i in 0..10 {
        // Keep under the per-minute limits: one attempt every 13 seconds.
        e.clock.advance(13);
        let r = e.auth.login("a@example.org", "wrong-password-123", IP).await;
        assert!(matches!(r, Err(Error::InvalidCredentials)), "attempt {i}: {r:?}");
    }
    e.clock.advance(13);
    match e.auth.login("a@example.org", PW, IP).await {
        Err(Error::Locked { retry_after }) => assert_eq!(retry_after, 15 * 60 - 13),
        other => panic!("the right password is refused while locked: {other:?}"),
    }
    let lockouts = e
        .auth
        .audit_events(AuditQuery { event: Some("lockout".into()), limit: 10, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(lockouts.len(), 1);
    e.clock.advance(15 * 60);
    assert!(e.auth.login("a@example.org", PW, IP).await.is_ok(), "the lock ends");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_accounts_lock_like_known_ones() {
    let e = env();
    for _ in 0..10 {
        e.clock.advance(13);
        assert!(matches!(e.auth.login("ghost@example.org", PW, IP).await, Err(Error::InvalidCredentials)));
    }
    e.clock.advance(13);
    assert!(matches!(e.auth.login("ghost@example.org", PW, IP).await, Err(Error::Locked { .. })));
}

#[tokio::test(flavor = "multi_thread")]
async fn password_change_needs_the_current_one_and_ends_sessions() {
    let e = env();
    e.auth.register("a@example.org", PW, IP).await.unwrap();
    let (who, t) = session(&e, "a@example.org").await;
    assert!(matches!(
        e.auth.change_password(&who, "nope-nope-nope", "green-Otter-8-kettle", false, IP).await,
        Err(Error::InvalidCredentials)
    ));
    assert!(matches!(
        e.auth.change_password(&who, PW, "weak", false, IP).await,
        Err(Error::InvalidInput { field: "new_password", .. })
    ));
    e.auth.change_password(&who, PW, "green-Otter-8-kettle", false, IP).await.unwrap();
    assert!(e.auth.authenticate_bearer(&t.access_token).await.is_err());
    assert!(e.auth.login("a@example.org", PW, "203.0.113.1").await.is_err());
    assert!(e.auth.login("a@example.org", "green-Otter-8-kettle", "203.0.113.2").await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_tokens_are_delivered_single_use_and_short_lived() {
    let mailbox = Arc::new(Mailbox::default());
    let e = env_full(|_| {}, Some(mailbox.clone()));
    e.auth.register("a@example.org", PW, IP).await.unwrap();
    e.auth.request_reset("nobody@example.org", IP).await.expect("same answer for unknown accounts");
    e.auth.request_reset("a@example.org", IP).await.unwrap();
    let token = {
        let mails = mailbox.0.lock().unwrap();
        assert_eq!(mails.len(), 1, "only the real account gets mail");
        mails[0].1.clone()
    };
    e.auth.confirm_reset(&token, "green-Otter-8-kettle", IP).await.unwrap();
    assert!(e.auth.confirm_reset(&token, "yellow-Finch-9-anvil", IP).await.is_err(), "single use");
    assert!(e.auth.login("a@example.org", "green-Otter-8-kettle", IP).await.is_ok());

    e.clock.advance(5 * 60);
    e.auth.request_reset("a@example.org", IP).await.unwrap();
    let token = mailbox.0.lock().unwrap()[1].1.clone();
    e.clock.advance(30 * 60);
    assert!(e.auth.confirm_reset(&token, "yellow-Finch-9-anvil", IP).await.is_err(), "expired");
}

#[tokio::test(flavor = "multi_thread")]
async fn api_keys_authenticate_until_revoked_and_only_owners_revoke() {
    let e = env();
    e.auth.register("a@example.org", PW, IP).await.unwrap();
    e.auth.register("b@example.org", PW, IP).await.unwrap();
    let (alice, _) = session(&e, "a@example.org").await;
    let (bob, _) = session(&e, "b@example.org").await;
    let k = e.auth.create_key(&alice, "laptop", IP).await.unwrap();
    assert!(k.key.starts_with("ntsb_") && k.record.prefix.len() == 11 && k.key.starts_with(&k.record.prefix));
    let who = e.auth.authenticate_key(&k.key).await.unwrap();
    assert_eq!((who.user, who.via.clone()), (alice.user, Via::ApiKey(k.record.id.clone())));
    let listed = e.auth.list_keys(&alice).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_used_at, Some(T0));
    assert!(e.auth.list_keys(&bob).await.unwrap().is_empty());
    assert!(matches!(e.auth.revoke_key(&bob, &k.record.id, IP).await, Err(Error::NotFound(_))));
    assert!(e.auth.authenticate_key(&k.key).await.is_ok());
    e.auth.revoke_key(&alice, &k.record.id, IP).await.unwrap();
    assert!(e.auth.authenticate_key(&k.key).await.is_err());
    assert!(e.auth.authenticate_key("ntsb_not-a-key").await.is_err());
    assert!(matches!(e.auth.create_key(&alice, "", IP).await, Err(Error::InvalidInput { field: "name", .. })));
}

#[tokio::test(flavor = "multi_thread")]
async fn disabling_an_account_stops_its_tokens_and_keys_at_once() {
    let e = env();
    let admin = e.auth.create_user("root@example.org", PW, Role::Admin).await.unwrap();
    e.auth.register("a@example.org", PW, IP).await.unwrap();
    let (alice, t) = session(&e, "a@example.org").await;
    let k = e.auth.create_key(&alice, "k", IP).await.unwrap();
    e.auth.set_disabled(Some(admin.id), alice.user, true, IP).await.unwrap();
    assert!(e.auth.authenticate_bearer(&t.access_token).await.is_err());
    // Disabling revoked the key: it is unknown now, not merely refused.
    assert!(matches!(e.auth.authenticate_key(&k.key).await, Err(Error::Unauthenticated(_))));
    assert!(matches!(e.auth.login("a@example.org", PW, "203.0.113.9").await, Err(Error::Disabled)));
    assert!(matches!(e.auth.set_role(Some(admin.id), admin.id, Role::Free, IP).await, Err(Error::Forbidden(_))));
}

#[tokio::test(flavor = "multi_thread")]
async fn role_changes_apply_to_live_tokens() {
    let e = env();
    e.auth.register("a@example.org", PW, IP).await.unwrap();
    let (alice, t) = session(&e, "a@example.org").await;
    e.auth.set_role(None, alice.user, Role::Premium, IP).await.unwrap();
    assert_eq!(e.auth.authenticate_bearer(&t.access_token).await.unwrap().role, Role::Premium);
    let changes = e
        .auth
        .audit_events(AuditQuery { event: Some("role_changed".into()), limit: 10, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(changes[0].detail, "role premium");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_101st_request_of_a_free_user_is_refused_for_the_rest_of_the_day() {
    let e = env_with(|c| c.quotas.free = Tier { daily: 100, per_second: 0 });
    let who = Subject::User(ntsb_auth::UserId(1), Role::Free);
    for i in 1..=100u64 {
        let l = e.auth.check_rate(&who).await.unwrap().expect("limited");
        assert_eq!((l.limit, l.remaining), (100, 100 - i));
    }
    match e.auth.check_rate(&who).await {
        Err(Error::RateLimited(l)) => assert_eq!((l.limit, l.remaining, l.reset), (100, 0, 24 * 3600)),
        other => panic!("{other:?}"),
    }
    e.clock.advance(24 * 3600);
    assert!(e.auth.check_rate(&who).await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn bursts_are_limited_per_second_and_admins_are_unlimited() {
    let e = env_with(|c| c.quotas.premium = Tier { daily: 0, per_second: 3 });
    let who = Subject::User(ntsb_auth::UserId(2), Role::Premium);
    for _ in 0..3 {
        assert_eq!(e.auth.check_rate(&who).await.unwrap(), None);
    }
    assert!(
        matches!(e.auth.check_rate(&who).await, Err(Error::RateLimited(ref l)) if l.scope == "burst" && l.reset == 1)
    );
    e.clock.advance(1);
    assert!(e.auth.check_rate(&who).await.is_ok());
    let admin = Subject::User(ntsb_auth::UserId(3), Role::Admin);
    for _ in 0..10_000 {
        assert_eq!(e.auth.check_rate(&admin).await.unwrap(), None);
    }
    let anon = Subject::Anonymous("203.0.113.5".into());
    assert_eq!(e.auth.check_rate(&anon).await.unwrap().map(|l| l.limit), Some(1_000));
}

// ----- findings of the outside security review (issue 24) -----------------------------

/// What an attacker sees of one login attempt.
fn seen(r: ntsb_auth::Result<ntsb_auth::TokenPair>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(Error::InvalidCredentials) => "invalid".into(),
        Err(Error::Locked { retry_after }) => format!("locked {retry_after}"),
        Err(other) => format!("{other:?}"),
    }
}

/// Wrong passwords for `email` on a fixed schedule: failures spread over more
/// than the lock time, the lock, attempts during it, its end, and after.
async fn guessing(e: &Env, email: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut attempt = |r| out.push(seen(r));
    for _ in 0..5 {
        e.clock.advance(13);
        attempt(e.auth.login(email, "wrong-password-123", IP).await);
    }
    e.clock.advance(20 * 60);
    for _ in 0..8 {
        e.clock.advance(13);
        attempt(e.auth.login(email, "wrong-password-123", IP).await);
    }
    e.clock.advance(15 * 60);
    for _ in 0..3 {
        e.clock.advance(13);
        attempt(e.auth.login(email, "wrong-password-123", IP).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_and_known_addresses_lock_at_the_same_attempt_for_the_same_time() {
    let known = env();
    known.auth.register("a@example.org", PW, IP).await.unwrap();
    let unknown = env();
    let (k, u) = (guessing(&known, "a@example.org").await, guessing(&unknown, "a@example.org").await);
    assert_eq!(k, u, "an attacker can tell whether the address has an account");
    // The tenth failure locks for the whole lock time, from that failure on;
    // a failure after the lock ended locks again at once.
    let expected: Vec<String> = [
        vec!["invalid"; 10],
        vec!["locked 887", "locked 874", "locked 861"],
        vec!["invalid", "locked 887", "locked 874"],
    ]
    .concat()
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(k, expected);
    // The owner's right password is refused while locked, and the lock is on the account's row.
    assert!(matches!(known.auth.login("a@example.org", PW, IP).await, Err(Error::Locked { retry_after: 874 })));
    let row = known.auth.find_user("a@example.org").await.unwrap();
    assert_eq!(row.locked_until, Some(known.auth.now() + 874));
}

#[tokio::test(flavor = "multi_thread")]
async fn password_change_reset_and_disabling_revoke_api_keys() {
    let mailbox = Arc::new(Mailbox::default());
    let e = env_full(|_| {}, Some(mailbox.clone()));
    let admin = e.auth.create_user("root@example.org", PW, Role::Admin).await.unwrap();
    let victim = e.auth.create_user("boss@example.org", PW, Role::Admin).await.unwrap();
    let keys_alive = |keys: Vec<String>| {
        let auth = e.auth.clone();
        async move {
            let mut alive = Vec::new();
            for k in keys {
                alive.push(auth.authenticate_key(&k).await.is_ok());
            }
            alive
        }
    };

    // A password change revokes keys unless the owner asks to keep them.
    let (who, _) = session(&e, "boss@example.org").await;
    let k1 = e.auth.create_key(&who, "laptop", IP).await.unwrap().key;
    e.auth.change_password(&who, PW, "green-Otter-8-kettle", true, IP).await.unwrap();
    assert_eq!(keys_alive(vec![k1.clone()]).await, [true], "kept at the owner's request");
    let who = e
        .auth
        .authenticate_bearer(&e.auth.login("boss@example.org", "green-Otter-8-kettle", IP).await.unwrap().access_token)
        .await
        .unwrap();
    e.auth.change_password(&who, "green-Otter-8-kettle", PW, false, IP).await.unwrap();
    assert_eq!(keys_alive(vec![k1]).await, [false], "revoked by default");

    // An admin's key made by whoever took the account over ends with the owner's reset.
    let (who, _) = session(&e, "boss@example.org").await;
    let stolen = e.auth.create_key(&who, "attacker", IP).await.unwrap().key;
    assert_eq!(e.auth.authenticate_key(&stolen).await.unwrap().role, Role::Admin);
    e.auth.request_reset("boss@example.org", IP).await.unwrap();
    let token = mailbox.0.lock().unwrap().last().unwrap().1.clone();
    e.auth.confirm_reset(&token, "yellow-Finch-9-anvil", IP).await.unwrap();
    assert_eq!(keys_alive(vec![stolen]).await, [false], "the reset revoked the key");

    // Disabling revokes keys; enabling does not bring them back.
    let who = e
        .auth
        .authenticate_bearer(&e.auth.login("boss@example.org", "yellow-Finch-9-anvil", IP).await.unwrap().access_token)
        .await
        .unwrap();
    let k3 = e.auth.create_key(&who, "ci", IP).await.unwrap().key;
    e.auth.set_disabled(Some(admin.id), victim.id, true, IP).await.unwrap();
    e.auth.set_disabled(Some(admin.id), victim.id, false, IP).await.unwrap();
    assert_eq!(keys_alive(vec![k3]).await, [false], "re-enabling does not revive keys");

    let revocations = e
        .auth
        .audit_events(AuditQuery { event: Some("key_revoked".into()), limit: 10, ..Default::default() })
        .await
        .unwrap();
    let details: Vec<&str> = revocations.iter().map(|r| r.detail.as_str()).collect();
    assert_eq!(
        details,
        ["all keys (1): account disabled", "all keys (1): password reset", "all keys (1): password changed"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_reset_token_ends_the_older_one_and_mails_are_spaced() {
    let mailbox = Arc::new(Mailbox::default());
    let e = env_full(|_| {}, Some(mailbox.clone()));
    e.auth.register("a@example.org", PW, IP).await.unwrap();
    for _ in 0..5 {
        e.auth.request_reset("a@example.org", IP).await.expect("the same answer every time");
        e.clock.advance(10);
    }
    assert_eq!(mailbox.0.lock().unwrap().len(), 1, "one mail per five minutes");
    e.clock.advance(5 * 60);
    e.auth.request_reset("a@example.org", IP).await.unwrap();
    let (first, second) = {
        let mails = mailbox.0.lock().unwrap();
        assert_eq!(mails.len(), 2);
        (mails[0].1.clone(), mails[1].1.clone())
    };
    assert!(e.auth.confirm_reset(&first, "green-Otter-8-kettle", IP).await.is_err(), "the older token ended");
    e.auth.confirm_reset(&second, "green-Otter-8-kettle", IP).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn weak_passwords_are_refused_everywhere_naming_the_field() {
    let mailbox = Arc::new(Mailbox::default());
    let e = env_full(|_| {}, Some(mailbox.clone()));
    for weak in ["Password123!", "Qwerty123456", "Summer2024!!", "blue-Heron-7-\u{0}ladder"] {
        match e.auth.register("a@example.org", weak, IP).await {
            Err(Error::InvalidInput { field: "password", reason }) => assert!(!reason.is_empty()),
            other => panic!("{weak:?}: {other:?}"),
        }
    }
    e.auth.register("a@example.org", PW, IP).await.unwrap();
    let (who, _) = session(&e, "a@example.org").await;
    assert!(matches!(
        e.auth.change_password(&who, PW, "Summer2024!!", false, IP).await,
        Err(Error::InvalidInput { field: "new_password", .. })
    ));
    e.auth.request_reset("a@example.org", IP).await.unwrap();
    let token = mailbox.0.lock().unwrap()[0].1.clone();
    assert!(matches!(
        e.auth.confirm_reset(&token, "Qwerty123456", IP).await,
        Err(Error::InvalidInput { field: "new_password", .. })
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn registrations_are_limited_per_address() {
    let e = env();
    for i in 0..3 {
        e.auth.register(&format!("u{i}@example.org"), PW, IP).await.unwrap();
    }
    match e.auth.register("u3@example.org", PW, IP).await {
        Err(Error::RateLimited(l)) => assert_eq!((l.scope, l.limit, l.reset), ("registrations", 3, 3600)),
        other => panic!("{other:?}"),
    }
    e.auth.register("u3@example.org", PW, "198.51.100.1").await.expect("another address");
    e.clock.advance(3600);
    e.auth.register("u4@example.org", PW, IP).await.expect("the next hour");
}

#[tokio::test(flavor = "multi_thread")]
async fn costly_requests_are_charged_by_work_and_a_refused_charge_costs_nothing() {
    let e = env_with(|c| c.quotas.free = Tier { daily: 100, per_second: 0 });
    let who = Subject::User(ntsb_auth::UserId(1), Role::Free);
    assert_eq!(e.auth.check_rate(&who).await.unwrap().unwrap().remaining, 99);
    let after = e.auth.charge(&who, 59).await.unwrap().unwrap();
    assert_eq!((after.limit, after.remaining), (100, 40));
    match e.auth.charge(&who, 41).await {
        Err(Error::RateLimited(l)) => assert_eq!((l.limit, l.remaining), (100, 40), "nothing charged"),
        other => panic!("{other:?}"),
    }
    assert_eq!(e.auth.charge(&who, 40).await.unwrap().unwrap().remaining, 0);
    assert!(matches!(e.auth.check_rate(&who).await, Err(Error::RateLimited(_))));
    let admin = Subject::User(ntsb_auth::UserId(2), Role::Admin);
    assert_eq!(e.auth.charge(&admin, 1_000_000).await.unwrap(), None, "admins are unlimited");
}
