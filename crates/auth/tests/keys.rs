//! Signing-key rotation and the token checks that guard it, end to end over a
//! real (in-memory SQLite) store shared by "processes" (engines) configured
//! with different keys, as the pods of a rolling restart are.

use std::sync::Arc;

use ntsb_auth::jwt::{self, Claims};
use ntsb_auth::{Auth, AuthConfig, Error, HashCost, KeySet, ManualClock, MemoryCounters, SigningSecret};
use ntsb_store::Store;
use ntsb_store::sqlite::SqliteStore;

const PW: &str = "blue-Heron-7-ladder";
const IP: &str = "192.0.2.7";
const T0: i64 = 1_800_000_000;

fn key(byte: u8) -> SigningSecret {
    SigningSecret::new(vec![byte; 32], "test").unwrap()
}

struct Cluster {
    store: Arc<SqliteStore>,
    clock: Arc<ManualClock>,
}

impl Cluster {
    fn new() -> Cluster {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        store.migrate().unwrap();
        Cluster { store, clock: Arc::new(ManualClock::new(T0)) }
    }

    /// A process with these keys over the shared store.
    fn process(&self, keys: KeySet) -> Auth {
        let config = AuthConfig { hash_cost: HashCost::TEST, ..AuthConfig::default() };
        let counters = Arc::new(MemoryCounters::new(self.clock.clone()));
        Auth::new(self.store.clone(), counters, self.clock.clone(), keys, config).unwrap()
    }
}

fn refused(r: ntsb_auth::Result<ntsb_auth::Principal>) -> &'static str {
    match r {
        Err(Error::Unauthenticated(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rotating_the_signing_key_logs_nobody_out_and_retiring_it_refuses_its_tokens() {
    let (old, new) = (key(1), key(2));
    let cluster = Cluster::new();
    let before = cluster.process(KeySet::from(old.clone()));
    before.register("pilot@example.org", PW, IP).await.unwrap();
    let session = before.login("pilot@example.org", PW, IP).await.unwrap();

    // Step 1 of the runbook: every process learns the new key, the old one still signs.
    let introduced = cluster.process(KeySet::new(old.clone(), vec![new.clone()]).unwrap());
    // Step 2: the new key signs, the old one is retired but still accepted.
    let rotated = cluster.process(KeySet::new(new.clone(), vec![old.clone()]).unwrap());
    let fresh = rotated.login("pilot@example.org", PW, IP).await.unwrap();
    // During the rolling restart both generations run side by side: each accepts the other's tokens.
    for p in [&before, &introduced, &rotated] {
        assert_eq!(p.authenticate_bearer(&session.access_token).await.unwrap().email, "pilot@example.org");
    }
    for p in [&introduced, &rotated] {
        assert_eq!(p.authenticate_bearer(&fresh.access_token).await.unwrap().email, "pilot@example.org");
    }
    // The session itself survives: its refresh token (not signed by any key) renews it under the new key.
    let renewed = rotated.refresh(&session.refresh_token, IP).await.unwrap();
    let kid = |t: &str| {
        let h = base64_url(t.split('.').next().unwrap());
        serde_json::from_slice::<serde_json::Value>(&h).unwrap()["kid"].as_str().unwrap().to_string()
    };
    assert_eq!(kid(&session.access_token), jwt::key_id(&old));
    assert_eq!(kid(&renewed.access_token), jwt::key_id(&new));

    // Step 3, an hour later: the old key is dropped. Its tokens are refused, the session is not.
    cluster.clock.advance(1800);
    let retired = cluster.process(KeySet::from(new.clone()));
    assert_eq!(refused(retired.authenticate_bearer(&session.access_token).await), "unknown token key id");
    assert_eq!(retired.authenticate_bearer(&renewed.access_token).await.unwrap().email, "pilot@example.org");
    assert_eq!(retired.authenticate_bearer(&fresh.access_token).await.unwrap().email, "pilot@example.org");
    let again = retired.refresh(&renewed.refresh_token, IP).await.unwrap();
    assert_eq!(retired.authenticate_bearer(&again.access_token).await.unwrap().email, "pilot@example.org");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_living_longer_than_the_configured_lifetime_is_refused_even_with_a_valid_signature() {
    let cluster = Cluster::new();
    let signing = key(3);
    let auth = cluster.process(KeySet::from(signing.clone()));
    auth.register("pilot@example.org", PW, IP).await.unwrap();
    let session = auth.login("pilot@example.org", PW, IP).await.unwrap();
    let me = auth.authenticate_bearer(&session.access_token).await.unwrap();
    let ntsb_auth::Via::Session(sid) = me.via else { panic!("a session") };
    // What someone holding a leaked key would mint: a well-signed token valid for ten years.
    let forever = Claims {
        iss: jwt::ISSUER.into(),
        sub: me.user.0,
        sid: sid.clone(),
        iat: T0,
        exp: T0 + 10 * 365 * 24 * 3600,
        typ: jwt::ACCESS.into(),
    };
    assert_eq!(
        refused(auth.authenticate_bearer(&jwt::sign(&forever, &signing)).await),
        "token lifetime over the maximum"
    );
    let hour = Claims { exp: T0 + auth.config().access_ttl, ..forever };
    assert_eq!(auth.authenticate_bearer(&jwt::sign(&hour, &signing)).await.unwrap().user, me.user);
}

#[tokio::test(flavor = "multi_thread")]
async fn access_and_refresh_tokens_cannot_stand_in_for_each_other() {
    let cluster = Cluster::new();
    let signing = key(4);
    let auth = cluster.process(KeySet::from(signing.clone()));
    auth.register("pilot@example.org", PW, IP).await.unwrap();
    let t = auth.login("pilot@example.org", PW, IP).await.unwrap();
    assert!(matches!(auth.authenticate_bearer(&t.refresh_token).await, Err(Error::Unauthenticated(_))));
    assert!(matches!(auth.refresh(&t.access_token, IP).await, Err(Error::Unauthenticated(_))));
    // A signed token of another type is refused as a bearer token.
    let me = auth.authenticate_bearer(&t.access_token).await.unwrap();
    let ntsb_auth::Via::Session(sid) = me.via else { panic!("a session") };
    let claims = Claims { iss: jwt::ISSUER.into(), sub: me.user.0, sid, iat: T0, exp: T0 + 60, typ: "refresh".into() };
    assert_eq!(refused(auth.authenticate_bearer(&jwt::sign(&claims, &signing)).await), "bad token claims");
    // Both still work for what they are.
    assert!(auth.authenticate_bearer(&t.access_token).await.is_ok());
    assert!(auth.refresh(&t.refresh_token, IP).await.is_ok());
}

fn base64_url(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()
}
