//! Credentials verified in the last moment, so a client sending the same API key
//! or session many times a second costs the store one lookup per [`TRUST_FOR`]
//! instead of one per request.
//!
//! Only successful verifications are remembered (an unknown or revoked key is
//! looked up every time, and a flood of random keys cannot fill the map). Every
//! change this process makes to who may do what (revoking a key or a session,
//! a role, a disabled account, a new password) forgets everything at once; a
//! change made by *another* process (a second replica, `ntsb user set-role`)
//! takes effect here within [`TRUST_FOR`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::service::Principal;

/// How long a verified credential is trusted without asking the store again.
pub const TRUST_FOR: Duration = Duration::from_secs(1);

/// Most credentials remembered; past it, expired ones are dropped, then all.
const CAPACITY: usize = 10_000;

/// What a credential resolved to, and when.
struct Entry {
    principal: Principal,
    at: Instant,
}

/// The remembered credentials (see the module documentation). Keys are
/// digests of the credential, never the credential itself.
#[derive(Default)]
pub(crate) struct RecentPrincipals {
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_credential: HashMap<String, Entry>,
    /// Times everything was forgotten: a lookup that started before the last
    /// time must not be remembered (it may have read what was just revoked).
    generation: u64,
}

impl RecentPrincipals {
    /// Who `credential` belonged to less than [`TRUST_FOR`] ago, or else the
    /// generation to pass to [`RecentPrincipals::remember`] after looking it up.
    pub(crate) fn get(&self, credential: &str) -> Result<Principal, u64> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.by_credential.get(credential) {
            Some(e) if e.at.elapsed() < TRUST_FOR => Ok(e.principal.clone()),
            _ => Err(entries.generation),
        }
    }

    /// Notes that `credential` was verified as `principal` by a lookup that
    /// began at `generation` (ignored if something was forgotten since).
    pub(crate) fn remember(&self, credential: String, principal: &Principal, generation: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.generation != generation {
            return;
        }
        if entries.by_credential.len() >= CAPACITY {
            entries.by_credential.retain(|_, e| e.at.elapsed() < TRUST_FOR);
            if entries.by_credential.len() >= CAPACITY {
                entries.by_credential.clear();
            }
        }
        entries.by_credential.insert(credential, Entry { principal: principal.clone(), at: Instant::now() });
    }

    /// Forgets every credential: call after any change to keys, sessions,
    /// roles, passwords or account status.
    pub(crate) fn forget_all(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.by_credential.clear();
        entries.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Via;
    use ntsb_store::accounts::{Role, UserId};

    fn alice() -> Principal {
        Principal {
            user: UserId(1),
            email: "alice@example.org".into(),
            role: Role::Free,
            via: Via::ApiKey("k1".into()),
        }
    }

    #[test]
    fn remembers_until_forgotten() {
        let recent = RecentPrincipals::default();
        let generation = recent.get("k:abc").expect_err("unknown");
        recent.remember("k:abc".into(), &alice(), generation);
        assert_eq!(recent.get("k:abc"), Ok(alice()));
        assert!(recent.get("k:other").is_err());
        recent.forget_all();
        assert!(recent.get("k:abc").is_err());
    }

    #[test]
    fn a_lookup_that_began_before_a_revocation_is_not_remembered() {
        let recent = RecentPrincipals::default();
        let began = recent.get("k:abc").expect_err("unknown");
        recent.forget_all(); // a key was revoked while the lookup ran
        recent.remember("k:abc".into(), &alice(), began);
        assert!(recent.get("k:abc").is_err());
    }

    #[test]
    fn stays_bounded() {
        let recent = RecentPrincipals::default();
        for i in 0..CAPACITY + 10 {
            recent.remember(format!("k:{i}"), &alice(), 0);
        }
        assert!(recent.entries.lock().unwrap().by_credential.len() <= CAPACITY);
    }
}
