//! Access tokens: compact JWS with HMAC-SHA256, and nothing else.
//!
//! The algorithm is pinned: a token whose header is anything but
//! `{"alg":"HS256","typ":"JWT","kid":…}` (`alg: none`, `RS256`, no `typ`, a
//! `jku`) is refused before its signature is even looked at, so no header field
//! can choose how the token is checked. The key id only *selects* one of the
//! configured keys by exact comparison (it is never a path or a URL); an unknown
//! id is refused. The signature is compared in constant time (`hmac`'s
//! `verify_slice`). The claims are ours only: issuer `ntsb`, subject (user id),
//! session (refresh family) id, issued-at, expiry and `typ: access`; a token
//! whose lifetime (`exp − iat`) exceeds the configured access-token lifetime is
//! refused even when its signature is good (a leaked key cannot mint a
//! ten-year token).
//!
//! **Key rotation.** A [`KeySet`] holds the signing key and further keys that
//! are accepted but never sign: the previous key (retired, kept until the
//! tokens it signed have expired) or the next one (introduced everywhere before
//! it starts signing). A key's id is derived from the key itself
//! ([`key_id`]), so every process computes the same id for the same key and
//! there is nothing else to configure or to get out of step.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::{Error, Result, SigningSecret};

type HmacSha256 = Hmac<Sha256>;

/// Issuer claim of every token.
pub const ISSUER: &str = "ntsb";

/// The only token type this program issues (`typ` claim).
pub const ACCESS: &str = "access";

/// Longest token accepted, in bytes (bounds the work spent on junk).
const MAX_TOKEN_LEN: usize = 2048;

/// Tolerated clock difference between processes, in seconds (a token issued
/// by a process whose clock runs ahead is still accepted).
const CLOCK_SKEW: i64 = 60;

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// Issuer: always `ntsb`.
    pub iss: String,
    /// Subject: the user id.
    pub sub: i64,
    /// Session: the refresh-token family the token was issued in.
    pub sid: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// Token type: always `access`.
    pub typ: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    typ: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
}

/// Why a token was refused (for logs; the client only hears "401").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Not three base64url parts, or bad JSON.
    Malformed,
    /// The header names another algorithm (`none`, `RS256`, …), another or no
    /// type, or extra fields.
    Algorithm,
    /// The key id names no configured key (a key retired for good, or a forgery).
    UnknownKey,
    /// The signature does not match.
    Signature,
    /// Past its expiry.
    Expired,
    /// Wrong issuer or type, or issued in the future.
    Claims,
    /// Valid for longer than this server ever issues tokens for.
    Lifetime,
}

impl Rejection {
    /// A short reason for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Malformed => "malformed token",
            Rejection::Algorithm => "token algorithm not allowed",
            Rejection::UnknownKey => "unknown token key id",
            Rejection::Signature => "bad token signature",
            Rejection::Expired => "expired token",
            Rejection::Claims => "bad token claims",
            Rejection::Lifetime => "token lifetime over the maximum",
        }
    }
}

fn mac(secret: &SigningSecret) -> HmacSha256 {
    // HMAC takes keys of any length; this cannot fail.
    <HmacSha256 as KeyInit>::new_from_slice(secret.bytes()).expect("HMAC accepts any key length")
}

/// The id of a key: 16 hex digits of an HMAC of a fixed label under the key.
/// It names the key in token headers and logs without revealing anything about
/// it, and is the same in every process that holds the key.
pub fn key_id(secret: &SigningSecret) -> String {
    let mut m = mac(secret);
    m.update(b"ntsb jwt key id v1");
    hex::encode(&m.finalize().into_bytes()[..8])
}

/// The keys of a process: one signs, all of them verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySet {
    signing: SigningSecret,
    signing_id: String,
    /// Every verification key with its id, the signing key first.
    verifying: Vec<(String, SigningSecret)>,
}

impl KeySet {
    /// The signing key (other engine parts derive their own MAC keys from it).
    pub(crate) fn signing(&self) -> &SigningSecret {
        &self.signing
    }

    /// The signing key plus `others`, accepted for verification only (the
    /// retired key until its tokens expire, or the next key before it signs).
    /// A key given twice is refused: it usually means the rotation was
    /// misconfigured (the "old" file still holds the new key).
    pub fn new(signing: SigningSecret, others: Vec<SigningSecret>) -> Result<KeySet> {
        let signing_id = key_id(&signing);
        let mut verifying = vec![(signing_id.clone(), signing.clone())];
        for key in others {
            let id = key_id(&key);
            if verifying.iter().any(|(known, _)| *known == id) {
                return Err(Error::Config(format!(
                    "jwt keys: key {id} is given twice (a verification key equals the signing key or another one)"
                )));
            }
            verifying.push((id, key));
        }
        Ok(KeySet { signing, signing_id, verifying })
    }

    /// The id of the signing key.
    pub fn signing_id(&self) -> &str {
        &self.signing_id
    }

    /// The ids of the keys accepted for verification only.
    pub fn other_ids(&self) -> Vec<&str> {
        self.verifying[1..].iter().map(|(id, _)| id.as_str()).collect()
    }

    /// Whether the signing key was generated at start-up.
    pub fn is_ephemeral(&self) -> bool {
        self.signing.is_ephemeral()
    }

    fn by_id(&self, id: &str) -> Option<&SigningSecret> {
        self.verifying.iter().find(|(known, _)| known == id).map(|(_, key)| key)
    }
}

impl From<SigningSecret> for KeySet {
    fn from(signing: SigningSecret) -> KeySet {
        let signing_id = key_id(&signing);
        KeySet { verifying: vec![(signing_id.clone(), signing.clone())], signing, signing_id }
    }
}

/// Signs claims into a compact token whose header names the key.
pub fn sign(claims: &Claims, secret: &SigningSecret) -> String {
    let header = Header { alg: "HS256".into(), typ: Some("JWT".into()), kid: Some(key_id(secret)) };
    let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap_or_default());
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signing_input = format!("{header}.{payload}");
    let mut m = mac(secret);
    m.update(signing_input.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    format!("{signing_input}.{sig}")
}

/// Signs claims with the set's signing key.
pub fn sign_with(claims: &Claims, keys: &KeySet) -> String {
    sign(claims, &keys.signing)
}

/// Checks a token's header, key, signature, expiry and claims at time `now`;
/// `max_lifetime` (seconds) is the longest `exp − iat` accepted — the lifetime
/// this server gives its tokens.
///
/// A token without `kid` (issued before key ids existed) is checked against
/// the signing key only.
pub fn verify(token: &str, keys: &KeySet, now: i64, max_lifetime: i64) -> Result<Claims, Rejection> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Rejection::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Rejection::Malformed);
    };
    let header_json = URL_SAFE_NO_PAD.decode(header).map_err(|_| Rejection::Malformed)?;
    let parsed: Header = serde_json::from_slice(&header_json).map_err(|_| Rejection::Algorithm)?;
    if parsed.alg != "HS256" || parsed.typ.as_deref() != Some("JWT") {
        return Err(Rejection::Algorithm);
    }
    let key = match parsed.kid.as_deref() {
        None => &keys.signing,
        Some(kid) => keys.by_id(kid).ok_or(Rejection::UnknownKey)?,
    };
    let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| Rejection::Malformed)?;
    let mut m = mac(key);
    m.update(header.as_bytes());
    m.update(b".");
    m.update(payload.as_bytes());
    m.verify_slice(&sig).map_err(|_| Rejection::Signature)?;
    let body = URL_SAFE_NO_PAD.decode(payload).map_err(|_| Rejection::Malformed)?;
    let claims: Claims = serde_json::from_slice(&body).map_err(|_| Rejection::Malformed)?;
    if claims.iss != ISSUER || claims.typ != ACCESS || claims.iat > now + CLOCK_SKEW || claims.exp <= claims.iat {
        return Err(Rejection::Claims);
    }
    if claims.exp.saturating_sub(claims.iat) > max_lifetime {
        return Err(Rejection::Lifetime);
    }
    if claims.exp <= now {
        return Err(Rejection::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: i64 = 3600;

    fn key(byte: u8) -> SigningSecret {
        SigningSecret::new(vec![byte; 32], "test").unwrap()
    }

    fn keys() -> KeySet {
        KeySet::from(key(7))
    }

    fn claims(now: i64) -> Claims {
        Claims { iss: ISSUER.into(), sub: 42, sid: "fam".into(), iat: now, exp: now + TTL, typ: ACCESS.into() }
    }

    fn header_of(token: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap()
    }

    /// A token with any header and claims, signed (correctly) with `secret`.
    fn raw(header: &str, claims: &serde_json::Value, secret: &SigningSecret) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap())
        );
        let mut m = mac(secret);
        m.update(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(m.finalize().into_bytes()))
    }

    #[test]
    fn tokens_name_their_key_and_key_ids_are_stable_and_distinct() {
        let t = sign(&claims(1000), &key(7));
        let h = header_of(&t);
        assert_eq!((h["alg"].as_str(), h["typ"].as_str()), (Some("HS256"), Some("JWT")));
        assert_eq!(h["kid"].as_str(), Some(key_id(&key(7)).as_str()));
        assert_eq!(key_id(&key(7)), key_id(&key(7)), "every process derives the same id");
        assert_ne!(key_id(&key(7)), key_id(&key(8)));
        assert_eq!(key_id(&key(7)).len(), 16);
        assert!(!key_id(&key(7)).contains("0707"), "the id is not the key");
    }

    #[test]
    fn signed_tokens_verify_until_they_expire() {
        let t = sign(&claims(1000), &key(7));
        assert_eq!(verify(&t, &keys(), 1000, TTL).unwrap().sub, 42);
        assert_eq!(verify(&t, &keys(), 4599, TTL).unwrap().sid, "fam");
        assert_eq!(verify(&t, &keys(), 4600, TTL), Err(Rejection::Expired));
    }

    #[test]
    fn another_secret_or_a_tampered_payload_is_refused() {
        let t = sign(&claims(1000), &key(7));
        assert_eq!(verify(&t, &KeySet::from(key(8)), 1000, TTL), Err(Rejection::UnknownKey));
        // The other key's id on a token signed by another key: the signature decides.
        let parts: Vec<&str> = t.split('.').collect();
        let mut c = serde_json::to_value(claims(1000)).unwrap();
        let lying = raw(&format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{}"}}"#, key_id(&key(7))), &c, &key(8));
        assert_eq!(verify(&lying, &keys(), 1000, TTL), Err(Rejection::Signature));
        c["sub"] = 1.into();
        let tampered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap()), parts[2]);
        assert_eq!(verify(&tampered, &keys(), 1000, TTL), Err(Rejection::Signature));
    }

    #[test]
    fn rotation_accepts_the_other_keys_and_refuses_a_key_once_dropped() {
        let (old, new) = (key(7), key(8));
        let by_old = sign(&claims(1000), &old);
        let by_new = sign(&claims(1000), &new);
        // Step 1: the new key is introduced (verifies) while the old one still signs.
        let introduced = KeySet::new(old.clone(), vec![new.clone()]).unwrap();
        assert_eq!(verify(&by_new, &introduced, 1000, TTL).unwrap().sub, 42);
        assert_eq!(verify(&by_old, &introduced, 1000, TTL).unwrap().sub, 42);
        // Step 2: the new key signs, the old one is retired but accepted.
        let swapped = KeySet::new(new.clone(), vec![old.clone()]).unwrap();
        assert_eq!(verify(&by_old, &swapped, 1000, TTL).unwrap().sub, 42);
        assert_eq!(header_of(&sign_with(&claims(1000), &swapped))["kid"].as_str(), Some(swapped.signing_id()));
        assert_eq!(swapped.other_ids(), [key_id(&old).as_str()]);
        // Step 3: the old key is dropped; its tokens are refused, the new ones are not.
        let retired = KeySet::from(new.clone());
        assert_eq!(verify(&by_old, &retired, 1000, TTL), Err(Rejection::UnknownKey));
        assert_eq!(verify(&by_new, &retired, 1000, TTL).unwrap().sub, 42);
    }

    #[test]
    fn a_key_given_twice_is_a_configuration_error() {
        assert!(KeySet::new(key(7), vec![key(7)]).is_err());
        assert!(KeySet::new(key(7), vec![key(8), key(8)]).is_err());
        assert!(KeySet::new(key(7), vec![key(8), key(9)]).is_ok());
    }

    #[test]
    fn tokens_without_a_key_id_are_checked_against_the_signing_key_only() {
        let c = serde_json::to_value(claims(1000)).unwrap();
        let legacy = raw(r#"{"alg":"HS256","typ":"JWT"}"#, &c, &key(7));
        assert_eq!(verify(&legacy, &keys(), 1000, TTL).unwrap().sub, 42);
        let by_retired = raw(r#"{"alg":"HS256","typ":"JWT"}"#, &c, &key(8));
        let set = KeySet::new(key(7), vec![key(8)]).unwrap();
        assert_eq!(verify(&by_retired, &set, 1000, TTL), Err(Rejection::Signature));
    }

    #[test]
    fn a_lifetime_over_the_maximum_is_refused_even_when_signed() {
        let mut c = claims(1000);
        c.exp = c.iat + 10 * 365 * 24 * 3600;
        assert_eq!(verify(&sign(&c, &key(7)), &keys(), 1000, TTL), Err(Rejection::Lifetime));
        c.exp = c.iat + TTL + 1;
        assert_eq!(verify(&sign(&c, &key(7)), &keys(), 1000, TTL), Err(Rejection::Lifetime));
        c.exp = c.iat + TTL;
        assert!(verify(&sign(&c, &key(7)), &keys(), 1000, TTL).is_ok());
        // Backdating iat to stretch the window does not help: exp ≤ iat is refused.
        c.iat = c.exp;
        assert_eq!(verify(&sign(&c, &key(7)), &keys(), 1000, TTL), Err(Rejection::Claims));
    }

    #[test]
    fn alg_none_other_algorithms_and_other_types_are_refused() {
        let c = serde_json::to_value(claims(1000)).unwrap();
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap());
        let kid = key_id(&key(7));
        for header in [
            r#"{"alg":"none","typ":"JWT"}"#.to_string(),
            r#"{"alg":"None"}"#.to_string(),
            r#"{"alg":"HS512","typ":"JWT"}"#.to_string(),
            r#"{"alg":"RS256","typ":"JWT"}"#.to_string(),
            r#"{"alg":"HS256"}"#.to_string(),
            format!(r#"{{"alg":"HS256","kid":"{kid}"}}"#),
            format!(r#"{{"alg":"HS256","typ":"refresh+jwt","kid":"{kid}"}}"#),
            format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid}","jku":"https://evil.example/keys"}}"#),
        ] {
            let h = URL_SAFE_NO_PAD.encode(&header);
            assert_eq!(verify(&format!("{h}.{payload}."), &keys(), 1000, TTL), Err(Rejection::Algorithm), "{header}");
            assert_eq!(verify(&format!("{h}.{payload}"), &keys(), 1000, TTL), Err(Rejection::Malformed), "{header}");
            // Correctly signed makes no difference: the header alone decides.
            assert_eq!(verify(&raw(&header, &c, &key(7)), &keys(), 1000, TTL), Err(Rejection::Algorithm), "{header}");
        }
        let path = raw(r#"{"alg":"HS256","typ":"JWT","kid":"../../etc/passwd"}"#, &c, &key(7));
        assert_eq!(verify(&path, &keys(), 1000, TTL), Err(Rejection::UnknownKey));
    }

    #[test]
    fn junk_is_malformed() {
        for t in ["", "a", "a.b", "a.b.c.d", "!!.!!.!!", &"a".repeat(5000)] {
            assert!(verify(t, &keys(), 0, TTL).is_err(), "{t}");
        }
    }

    #[test]
    fn wrong_type_or_issuer_is_refused() {
        let mut c = claims(1000);
        c.typ = "refresh".into();
        assert_eq!(verify(&sign(&c, &key(7)), &keys(), 1000, TTL), Err(Rejection::Claims));
        let mut c = claims(1000);
        c.iss = "evil".into();
        assert_eq!(verify(&sign(&c, &key(7)), &keys(), 1000, TTL), Err(Rejection::Claims));
        let mut c = serde_json::to_value(claims(1000)).unwrap();
        c.as_object_mut().unwrap().remove("typ");
        assert_eq!(
            verify(&raw(r#"{"alg":"HS256","typ":"JWT"}"#, &c, &key(7)), &keys(), 1000, TTL),
            Err(Rejection::Malformed)
        );
    }
}
