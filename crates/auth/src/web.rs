//! Browser sessions of the dashboard, their CSRF tokens, and the
//! proof-of-work challenge of the sign-in form.
//!
//! * **Sessions.** Signing in through the dashboard goes through the same
//!   checks as the API's login ([`Auth::login`]: attempt limits, lockout,
//!   password, disabled accounts) and then stores a session instead of issuing
//!   tokens: a random 256-bit id, kept by the browser in a cookie and by the
//!   store only as its SHA-256 digest. A session ends after
//!   [`AuthConfig::session_idle_secs`](crate::AuthConfig) without a request or
//!   [`session_max_secs`](crate::AuthConfig) after sign-in, whichever comes
//!   first; on sign-out, a password change or reset, and when the account is
//!   disabled. Creation and end are audited (`session_created`, `session_ended`).
//! * **CSRF.** A signed-in form carries `HMAC(key, "csrf" ‖ session id)`: bound
//!   to the session, nothing stored, useless to anyone without the cookie. The
//!   anonymous forms (sign-in, register) use a signed double-submit token: the
//!   same random value in a cookie and in the form, with a MAC so a value
//!   planted by someone else (a sibling domain setting cookies) is refused.
//! * **Challenge.** After [`AuthConfig::challenge_after`](crate::AuthConfig)
//!   failed logins from an address within the lockout time, the sign-in form
//!   carries a challenge (a random salt, a difficulty and an expiry, signed with
//!   HMAC); the browser finds a number `n` such that `SHA-256(salt ":" n)` starts
//!   with that many zero bits, and the server accepts each solved challenge once.
//!
//! The MAC key is derived from the JWT signing secret, so replicas that share
//! the secret accept each other's tokens and challenges.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use ntsb_store::accounts::NewWebSession;
use sha2::{Digest, Sha256};

use crate::service::blocking;
use crate::{Account, Auth, Error, Principal, Result, Via, random};

type HmacSha256 = Hmac<Sha256>;

/// A session's last-seen time is written at most this often (seconds): idle
/// expiry is exact to about a minute, and a page view is not always a write.
const TOUCH_EVERY: i64 = 60;
/// How long an issued challenge may be solved and sent (seconds).
const CHALLENGE_TTL: i64 = 10 * 60;
/// Length of a session id or token: 43 base64url characters (256 bits).
const TOKEN_LEN: usize = 43;

/// The counter of failed logins of a client address (see [`Auth::challenge_required`]).
pub(crate) fn failures_key(ip: &str) -> String {
    format!("login:ipfail:{ip}")
}

/// A new dashboard session.
#[derive(Debug, Clone)]
pub struct WebSignIn {
    /// The session id, for the cookie only (never stored, never logged).
    pub token: String,
    /// The account signed in.
    pub account: Account,
    /// Seconds until the session's absolute end (the cookie's `Max-Age`).
    pub max_age: i64,
}

/// A proof-of-work challenge, as the sign-in form carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Random salt (hex).
    pub salt: String,
    /// Leading zero bits wanted.
    pub bits: u32,
    /// Unix second after which it is refused.
    pub expires: i64,
    /// MAC over salt, bits and expiry (base64url).
    pub signature: String,
}

/// A solved challenge sent back with the sign-in form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChallengeAnswer {
    /// The challenge's salt.
    pub salt: String,
    /// Its difficulty.
    pub bits: u32,
    /// Its expiry.
    pub expires: i64,
    /// Its signature.
    pub signature: String,
    /// The number found.
    pub solution: String,
}

/// Leading zero bits of a digest.
fn zero_bits(digest: &[u8]) -> u32 {
    let mut n = 0;
    for b in digest {
        if *b == 0 {
            n += 8;
        } else {
            return n + b.leading_zeros();
        }
    }
    n
}

/// Whether `solution` solves the challenge with `salt` at `bits`.
pub fn solves(salt: &str, bits: u32, solution: &str) -> bool {
    zero_bits(&Sha256::digest(format!("{salt}:{solution}").as_bytes())) >= bits
}

fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_LEN && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Auth {
    /// The MAC of `parts` under the dashboard's key (derived from the signing secret).
    fn web_mac(&self, parts: &[&str]) -> HmacSha256 {
        let mut derive = <HmacSha256 as KeyInit>::new_from_slice(self.keys().signing().bytes())
            .expect("HMAC accepts any key length");
        derive.update(b"ntsb dashboard v1");
        let key = derive.finalize().into_bytes();
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&key).expect("HMAC accepts any key length");
        for p in parts {
            mac.update(p.as_bytes());
            mac.update(b"\x1f");
        }
        mac
    }

    fn web_sign(&self, parts: &[&str]) -> String {
        URL_SAFE_NO_PAD.encode(self.web_mac(parts).finalize().into_bytes())
    }

    /// Checks a MAC in constant time.
    fn web_verify(&self, parts: &[&str], presented: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(presented) {
            Ok(tag) => self.web_mac(parts).verify_slice(&tag).is_ok(),
            Err(_) => false,
        }
    }

    // ----- sessions -----------------------------------------------------------------

    /// Signs in through the dashboard: the checks of [`Auth::login`], then the
    /// proof-of-work challenge when the address has failed too often, then a
    /// new session. `answer` is the solved challenge, if the form sent one.
    pub async fn sign_in_web(
        &self,
        email: &str,
        password: &str,
        answer: Option<&ChallengeAnswer>,
        ip: &str,
    ) -> Result<WebSignIn> {
        if self.challenge_required(ip).await {
            let Some(answer) = answer else { return Err(Error::ChallengeRequired) };
            if !self.accept_challenge(answer).await {
                self.audit_denial("login_failure", None, ip, "challenge missing, wrong or spent");
                return Err(Error::ChallengeRequired);
            }
        }
        let (user, now) = self.check_login(email, password, ip).await?;
        let token = random::token("")?;
        let config = self.config();
        let (idle, max) = (config.session_idle_secs, config.session_max_secs);
        let record =
            NewWebSession { id_hash: random::digest(&token), user_id: user.id, created_at: now, expires_at: now + max };
        let accounts = self.accounts();
        let (id, short) = (user.id, record.id_hash[..12].to_string());
        blocking(move || {
            // Sessions that ended unseen go now, so the table holds live ones only.
            accounts.purge_web_sessions(now, now - idle)?;
            accounts.record_login_success(id, now)?;
            accounts.create_web_session(&record)?;
            Ok(())
        })
        .await?;
        self.audit("login_success", Some(id), None, ip, "dashboard").await;
        self.audit("session_created", Some(id), None, ip, &format!("session {short}")).await;
        Ok(WebSignIn { token, account: Account::from(&user), max_age: max })
    }

    /// Who a session cookie belongs to: an open session (neither idle too long
    /// nor past its absolute end) of an enabled account. An ended session is
    /// deleted and refused.
    pub async fn authenticate_web(&self, token: &str) -> Result<Principal> {
        if !well_formed(token) {
            return Err(Error::Unauthenticated("malformed session cookie"));
        }
        let (hash, now, idle) = (random::digest(token), self.now(), self.config().session_idle_secs);
        let accounts = self.accounts();
        let found = blocking(move || {
            let Some((session, user)) = accounts.web_session(&hash)? else { return Ok(Err("unknown session")) };
            let ended = if now >= session.expires_at {
                Some("absolute lifetime over")
            } else if now - session.last_seen_at >= idle {
                Some("idle too long")
            } else {
                None
            };
            if let Some(why) = ended {
                accounts.end_web_session(&hash)?;
                return Ok(Ok(Err((user.id, why))));
            }
            if user.disabled {
                return Ok(Err("account disabled"));
            }
            if now - session.last_seen_at >= TOUCH_EVERY {
                accounts.touch_web_session(&hash, now)?;
            }
            let via = Via::Browser(hash[..12].to_string());
            Ok(Ok(Ok(Principal { user: user.id, email: user.email, role: user.role, via })))
        })
        .await?;
        match found {
            Ok(Ok(principal)) => Ok(principal),
            Ok(Err((user, why))) => {
                self.audit("session_ended", Some(user), None, "", why).await;
                Err(Error::Unauthenticated("session expired"))
            }
            Err(why) => Err(Error::Unauthenticated(why)),
        }
    }

    /// Signs out: deletes the session on the server, so its cookie is refused
    /// from now on, wherever it was copied to.
    pub async fn sign_out_web(&self, token: &str, ip: &str) -> Result<()> {
        if !well_formed(token) {
            return Ok(());
        }
        let (hash, accounts) = (random::digest(token), self.accounts());
        let short = hash[..12].to_string();
        if let Some(user) = blocking(move || Ok(accounts.end_web_session(&hash)?)).await? {
            self.audit("session_ended", Some(user), None, ip, &format!("session {short}: signed out")).await;
        }
        Ok(())
    }

    // ----- CSRF ---------------------------------------------------------------------

    /// The CSRF token of the forms of a signed-in session.
    pub fn csrf_for_session(&self, session_token: &str) -> String {
        self.web_sign(&["csrf", session_token])
    }

    /// Whether `presented` is the CSRF token of this session.
    pub fn csrf_matches_session(&self, session_token: &str, presented: &str) -> bool {
        self.web_verify(&["csrf", session_token], presented)
    }

    /// A new double-submit token for the anonymous forms: `nonce.mac`, to be
    /// put both in a cookie and in the form.
    pub fn anonymous_csrf(&self) -> Result<String> {
        let nonce = random::token("")?;
        Ok(format!("{nonce}.{}", self.web_sign(&["csrf-anonymous", &nonce])))
    }

    /// Whether the cookie's and the form's double-submit tokens are the same
    /// and signed by us.
    pub fn anonymous_csrf_matches(&self, cookie: &str, presented: &str) -> bool {
        let Some((nonce, mac)) = cookie.split_once('.') else { return false };
        let same = cookie.len() == presented.len()
            && cookie.bytes().zip(presented.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        same && well_formed(nonce) && self.web_verify(&["csrf-anonymous", nonce], mac)
    }

    // ----- the proof-of-work challenge ------------------------------------------------

    /// Whether the sign-in form must carry a solved challenge for this address.
    /// A failing counter store demands it (fails closed).
    pub async fn challenge_required(&self, ip: &str) -> bool {
        let after = self.config().challenge_after;
        if after == 0 {
            return false;
        }
        let window = u64::try_from(self.config().login.lock_secs).unwrap_or(900).max(1);
        match self.counters().increment(&failures_key(ip), 0, window).await {
            Ok(hit) => hit.count >= after,
            Err(e) => {
                tracing::error!(error = %e, "rate-limit counters failed; the challenge is demanded");
                true
            }
        }
    }

    /// A new signed challenge.
    pub fn issue_challenge(&self) -> Result<Challenge> {
        let salt = hex::encode(crate::random::bytes(12)?);
        let bits = self.config().challenge_bits;
        let expires = self.now() + CHALLENGE_TTL;
        let signature = self.web_sign(&["pow", &salt, &bits.to_string(), &expires.to_string()]);
        Ok(Challenge { salt, bits, expires, signature })
    }

    /// Whether `answer` solves a challenge we issued, in time, at the
    /// configured difficulty, for the first time (each is accepted once).
    async fn accept_challenge(&self, a: &ChallengeAnswer) -> bool {
        let signed = self.web_verify(&["pow", &a.salt, &a.bits.to_string(), &a.expires.to_string()], &a.signature);
        let now = self.now();
        if !signed
            || a.expires <= now
            || a.bits < self.config().challenge_bits
            || a.solution.len() > 20
            || !solves(&a.salt, a.bits, &a.solution)
        {
            return false;
        }
        let ttl = u64::try_from(a.expires - now).unwrap_or(1).max(1);
        match self.counters().increment(&format!("pow:spent:{}", a.salt), 1, ttl).await {
            Ok(hit) => hit.count == 1,
            Err(e) => {
                tracing::error!(error = %e, "rate-limit counters failed; a challenge cannot be checked");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_bits_are_counted_across_bytes() {
        assert_eq!(zero_bits(&[0, 0, 0x0f]), 20);
        assert_eq!(zero_bits(&[0x80]), 0);
        assert_eq!(zero_bits(&[0, 1]), 15);
        let n = (0u64..).find(|n| solves("abc", 8, &n.to_string())).unwrap();
        assert!(solves("abc", 8, &n.to_string()));
    }
}
