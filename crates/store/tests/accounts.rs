//! Accounts storage (migration 0006): users, lockout counting, refresh-token
//! families and their rotation, API keys, reset tokens and the audit trail.
//! Every test runs on SQLite and on PostgreSQL (see `common/mod.rs`).

#[macro_use]
mod common;

use ntsb_store::Error;
use ntsb_store::accounts::{AuditQuery, NewApiKey, NewAuditEvent, NewUser, NewWebSession, Role, Rotation, UserId};

fn new_user(email: &str, role: Role) -> NewUser {
    NewUser { email: email.into(), password_hash: format!("$argon2id$v=19$m=8,t=1,p=1$fake${email}"), role }
}

fn key(id: &str, user: UserId, hash: &str) -> NewApiKey {
    NewApiKey {
        id: id.into(),
        user_id: user,
        name: format!("key {id}"),
        key_hash: hash.into(),
        prefix: "ntsb_abc".into(),
        created_at: 100,
    }
}

conformance! {
    fn users_are_created_found_and_unique_by_email(kind) {
        let s = kind.store("users_are_created_found_and_unique_by_email");
        let a = s.create_user(&new_user("a@example.org", Role::Free), 10).expect("create");
        assert_eq!((a.email.as_str(), a.role, a.disabled, a.created_at, a.failed_logins), ("a@example.org", Role::Free, false, 10, 0));
        assert_eq!(s.user_by_email("a@example.org").unwrap().map(|u| u.id), Some(a.id));
        assert_eq!(s.user_by_id(a.id).unwrap().map(|u| u.email), Some("a@example.org".to_string()));
        assert!(s.user_by_email("nobody@example.org").unwrap().is_none());
        let dup = s.create_user(&new_user("a@example.org", Role::Admin), 11);
        assert!(matches!(dup, Err(Error::Conflict(_))), "{dup:?}");
        let b = s.create_user(&new_user("b@example.org", Role::Premium), 12).unwrap();
        let all = s.list_users(None, 10).unwrap();
        assert_eq!(all.iter().map(|u| u.id).collect::<Vec<_>>(), vec![a.id, b.id]);
        assert_eq!(s.list_users(Some(a.id), 10).unwrap().len(), 1);
        assert!(matches!(s.list_users(None, 0), Err(Error::InvalidQuery { .. })));
    }

    fn sql_text_in_fields_is_stored_verbatim(kind) {
        let s = kind.store("sql_text_in_fields_is_stored_verbatim");
        let evil = "x'); DROP TABLE users; --@example.org";
        let u = s.create_user(&new_user(evil, Role::Free), 1).unwrap();
        assert_eq!(s.user_by_email(evil).unwrap().map(|u| u.id), Some(u.id));
        assert!(s.user_by_email("' OR '1'='1").unwrap().is_none());
        assert_eq!(s.list_users(None, 10).unwrap().len(), 1);
    }

    fn role_disable_and_password_changes_are_stored(kind) {
        let s = kind.store("role_disable_and_password_changes_are_stored");
        let u = s.create_user(&new_user("a@example.org", Role::Free), 1).unwrap();
        assert!(s.set_role(u.id, Role::Premium).unwrap());
        assert!(s.set_disabled(u.id, true).unwrap());
        assert!(s.set_password(u.id, "$argon2id$new", 50).unwrap());
        let got = s.user_by_id(u.id).unwrap().unwrap();
        assert_eq!((got.role, got.disabled, got.password_hash.as_str(), got.password_changed_at), (Role::Premium, true, "$argon2id$new", 50));
        assert!(!s.set_role(UserId(999), Role::Admin).unwrap());
        assert!(!s.set_disabled(UserId(999), true).unwrap());
    }

    fn failures_count_up_lock_at_the_threshold_and_reset_on_success(kind) {
        let s = kind.store("failures_count_up_lock_at_the_threshold");
        let u = s.create_user(&new_user("a@example.org", Role::Free), 1).unwrap();
        for i in 1..=9 {
            let f = s.record_login_failure(u.id, 10, 1_000).unwrap();
            assert_eq!((f.failures, f.locked_until), (i, None));
        }
        let f = s.record_login_failure(u.id, 10, 1_000).unwrap();
        assert_eq!((f.failures, f.locked_until), (10, Some(1_000)));
        // A later failure never shortens the lock.
        let f = s.record_login_failure(u.id, 10, 900).unwrap();
        assert_eq!((f.failures, f.locked_until), (11, Some(1_000)));
        s.record_login_success(u.id, 2_000).unwrap();
        let got = s.user_by_id(u.id).unwrap().unwrap();
        assert_eq!((got.failed_logins, got.locked_until, got.last_login_at), (0, None, Some(2_000)));
        assert!(matches!(s.record_login_failure(UserId(999), 10, 1), Err(Error::NotFound(_))));
    }

    fn refresh_tokens_rotate_once_and_reuse_revokes_the_family(kind) {
        let s = kind.store("refresh_tokens_rotate_once_and_reuse_revokes");
        let u = s.create_user(&new_user("a@example.org", Role::Free), 1).unwrap();
        s.create_refresh_family("fam1", u.id, "h1", 10, 1_000).unwrap();
        assert!(s.family_active(u.id, "fam1").unwrap());
        assert_eq!(s.rotate_refresh("h1", "h2", 20, 1_020).unwrap(), Rotation::Rotated { user: u.id, family: "fam1".into() });
        assert_eq!(s.rotate_refresh("h2", "h3", 30, 1_030).unwrap(), Rotation::Rotated { user: u.id, family: "fam1".into() });
        // Replaying h1 (already used) revokes the family, so h3 dies too.
        assert_eq!(s.rotate_refresh("h1", "hx", 40, 1_040).unwrap(), Rotation::Reused { user: u.id, family: "fam1".into() });
        assert!(!s.family_active(u.id, "fam1").unwrap());
        assert_eq!(s.rotate_refresh("h3", "h4", 50, 1_050).unwrap(), Rotation::Invalid);
        assert_eq!(s.rotate_refresh("unknown", "h5", 50, 1_050).unwrap(), Rotation::Invalid);
    }

    fn expired_refresh_tokens_do_not_rotate(kind) {
        let s = kind.store("expired_refresh_tokens_do_not_rotate");
        let u = s.create_user(&new_user("a@example.org", Role::Free), 1).unwrap();
        s.create_refresh_family("fam", u.id, "h1", 10, 100).unwrap();
        assert_eq!(s.rotate_refresh("h1", "h2", 100, 200).unwrap(), Rotation::Invalid);
        assert_eq!(s.rotate_refresh("h1", "h2", 99, 200).unwrap(), Rotation::Rotated { user: u.id, family: "fam".into() });
    }

    fn families_are_revoked_by_their_owner_only(kind) {
        let s = kind.store("families_are_revoked_by_their_owner_only");
        let a = s.create_user(&new_user("a@example.org", Role::Free), 1).unwrap();
        let b = s.create_user(&new_user("b@example.org", Role::Free), 1).unwrap();
        s.create_refresh_family("fa", a.id, "ha", 10, 1_000).unwrap();
        s.create_refresh_family("fa2", a.id, "ha2", 10, 1_000).unwrap();
        assert!(!s.revoke_family(b.id, "fa", 20, "logout").unwrap());
        assert!(s.family_active(a.id, "fa").unwrap());
        assert!(!s.family_active(b.id, "fa").unwrap());
        assert!(s.revoke_family(a.id, "fa", 20, "logout").unwrap());
        assert_eq!(s.rotate_refresh("ha", "hb", 30, 1_000).unwrap(), Rotation::Invalid);
        assert_eq!(s.revoke_user_families(a.id, 40, "password_changed").unwrap(), 1);
        assert!(!s.family_active(a.id, "fa2").unwrap());
    }

    fn api_keys_are_found_by_hash_listed_and_revoked_by_owner(kind) {
        let s = kind.store("api_keys_are_found_by_hash_listed_and_revoked");
        let a = s.create_user(&new_user("a@example.org", Role::Premium), 1).unwrap();
        let b = s.create_user(&new_user("b@example.org", Role::Free), 1).unwrap();
        s.create_api_key(&key("k1", a.id, "hash1")).unwrap();
        s.create_api_key(&key("k2", b.id, "hash2")).unwrap();
        assert!(matches!(s.create_api_key(&key("k3", a.id, "hash1")), Err(Error::Conflict(_))));
        let (k, owner) = s.api_key_by_hash("hash1").unwrap().expect("found");
        assert_eq!((k.id.as_str(), owner.id, owner.role), ("k1", a.id, Role::Premium));
        assert!(s.api_key_by_hash("nope").unwrap().is_none());
        s.touch_api_key("k1", 500).unwrap();
        assert_eq!(s.list_api_keys(a.id).unwrap().iter().map(|k| (k.id.clone(), k.last_used_at)).collect::<Vec<_>>(), vec![("k1".to_string(), Some(500))]);
        // Another user's key id is not theirs to revoke.
        assert!(!s.revoke_api_key(Some(b.id), "k1", 600).unwrap());
        assert!(s.api_key_by_hash("hash1").unwrap().is_some());
        assert!(s.revoke_api_key(Some(a.id), "k1", 600).unwrap());
        assert!(!s.revoke_api_key(Some(a.id), "k1", 601).unwrap());
        assert!(s.api_key_by_hash("hash1").unwrap().is_none());
        assert_eq!(s.list_api_keys(a.id).unwrap()[0].revoked_at, Some(600));
        // An admin (no owner) may revoke any key.
        assert!(s.revoke_api_key(None, "k2", 700).unwrap());
        s.create_api_key(&key("k4", b.id, "hash4")).unwrap();
        assert_eq!(s.revoke_user_api_keys(b.id, 800).unwrap(), 1);
        assert!(s.api_key_by_hash("hash4").unwrap().is_none());
    }

    fn reset_tokens_are_single_use_and_expire(kind) {
        let s = kind.store("reset_tokens_are_single_use_and_expire");
        let u = s.create_user(&new_user("a@example.org", Role::Free), 1).unwrap();
        let v = s.create_user(&new_user("b@example.org", Role::Free), 1).unwrap();
        s.create_password_reset("r3", u.id, 10, 50).unwrap();
        assert_eq!(s.consume_password_reset("r3", 50).unwrap(), None, "expired");
        s.create_password_reset("r1", u.id, 10, 100).unwrap();
        s.create_password_reset("v1", v.id, 10, 100).unwrap();
        assert_eq!(s.consume_password_reset("r1", 20).unwrap(), Some(u.id));
        assert_eq!(s.consume_password_reset("r1", 21).unwrap(), None, "used");
        assert_eq!(s.consume_password_reset("nope", 22).unwrap(), None);
        assert_eq!(s.consume_password_reset("v1", 23).unwrap(), Some(v.id), "another account's token lives on");
    }

    fn a_new_reset_token_ends_the_older_ones(kind) {
        let s = kind.store("a_new_reset_token_ends_the_older_ones");
        let u = s.create_user(&new_user("a@example.org", Role::Free), 1).unwrap();
        s.create_password_reset("old", u.id, 10, 100).unwrap();
        s.create_password_reset("new", u.id, 11, 100).unwrap();
        assert_eq!(s.consume_password_reset("old", 20).unwrap(), None, "one live token per account");
        assert_eq!(s.consume_password_reset("new", 21).unwrap(), Some(u.id));
    }

    fn audit_events_are_listed_newest_first_and_filtered(kind) {
        let s = kind.store("audit_events_are_listed_newest_first");
        for (i, event) in ["login_failure", "login_success", "login_failure"].iter().enumerate() {
            s.record_audit(&NewAuditEvent {
                at: 100 + i as i64,
                event: event.to_string(),
                user_id: Some(UserId(7)),
                actor_id: None,
                ip: Some("10.0.0.1".into()),
                detail: "<script>alert(1)</script>".into(),
            })
            .unwrap();
        }
        let all = s.audit_events(&AuditQuery { limit: 10, ..Default::default() }).unwrap();
        assert_eq!(all.iter().map(|e| e.at).collect::<Vec<_>>(), vec![102, 101, 100]);
        assert_eq!(all[0].detail, "<script>alert(1)</script>");
        let failures = s.audit_events(&AuditQuery { event: Some("login_failure".into()), limit: 10, ..Default::default() }).unwrap();
        assert_eq!(failures.len(), 2);
        let page = s.audit_events(&AuditQuery { before_id: Some(all[0].id), limit: 1, ..Default::default() }).unwrap();
        assert_eq!(page.iter().map(|e| e.at).collect::<Vec<_>>(), vec![101]);
        assert!(s.audit_events(&AuditQuery { user_id: Some(UserId(8)), limit: 10, ..Default::default() }).unwrap().is_empty());
    }

    fn web_sessions_are_stored_by_digest_touched_ended_and_purged(kind) {
        let s = kind.store("web_sessions_are_stored_by_digest_touched_ended_and_purged");
        let a = s.create_user(&new_user("a@example.org", Role::Free), 1).unwrap();
        let b = s.create_user(&new_user("b@example.org", Role::Admin), 1).unwrap();
        let new = |hash: &str, user: UserId, at: i64| NewWebSession { id_hash: hash.into(), user_id: user, created_at: at, expires_at: at + 100 };
        s.create_web_session(&new("h1", a.id, 10)).unwrap();
        s.create_web_session(&new("h2", a.id, 20)).unwrap();
        s.create_web_session(&new("h3", b.id, 30)).unwrap();
        let (found, user) = s.web_session("h1").unwrap().expect("stored");
        assert_eq!((found.user_id, found.created_at, found.last_seen_at, found.expires_at), (a.id, 10, 10, 110));
        assert_eq!(user.email, "a@example.org");
        assert!(s.web_session("nope").unwrap().is_none());
        assert!(s.web_session("' OR '1'='1").unwrap().is_none());
        // Touching moves last_seen forward, never back.
        assert!(s.touch_web_session("h1", 50).unwrap());
        assert!(s.touch_web_session("h1", 40).unwrap());
        assert_eq!(s.web_session("h1").unwrap().unwrap().0.last_seen_at, 50);
        assert!(!s.touch_web_session("nope", 50).unwrap());
        // Ending one leaves the others.
        assert_eq!(s.end_web_session("h1").unwrap(), Some(a.id));
        assert_eq!(s.end_web_session("h1").unwrap(), None);
        assert!(s.web_session("h1").unwrap().is_none());
        assert!(s.web_session("h2").unwrap().is_some());
        // Every session of one user ends at once.
        s.create_web_session(&new("h4", a.id, 60)).unwrap();
        assert_eq!(s.end_user_web_sessions(a.id).unwrap(), 2);
        assert!(s.web_session("h3").unwrap().is_some(), "another user's session stays");
        // Purging: past the absolute end or idle since before the cut-off.
        s.create_web_session(&new("h5", a.id, 100)).unwrap();
        assert_eq!(s.purge_web_sessions(131, 99).unwrap(), 1, "h3 ended at 130");
        assert!(s.web_session("h5").unwrap().is_some());
        assert_eq!(s.purge_web_sessions(131, 100).unwrap(), 1, "h5 idle since 100");
        // Sessions go with their user's row.
        s.create_web_session(&new("h6", b.id, 200)).unwrap();
        assert!(s.web_session("h6").unwrap().is_some());
    }

    fn accounts_survive_a_rollback_of_nothing_and_go_with_0006(kind) {
        let s = kind.store("accounts_go_with_migration_0006");
        s.create_user(&new_user("a@example.org", Role::Free), 1).unwrap();
        let after_0006: Vec<i64> =
            s.migration_status().unwrap().iter().map(|m| m.version).filter(|v| *v >= 6).collect();
        assert_eq!(s.rollback(after_0006.len()).unwrap(), after_0006.iter().rev().copied().collect::<Vec<_>>());
        assert!(s.user_by_email("a@example.org").is_err(), "the schema is out of date after the rollback");
        assert_eq!(s.migrate().unwrap(), after_0006);
        assert!(s.user_by_email("a@example.org").unwrap().is_none(), "rolling back 0006 drops the accounts");
    }
}
