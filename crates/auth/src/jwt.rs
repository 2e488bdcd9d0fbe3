//! Access tokens: compact JWS with HMAC-SHA256, and nothing else.
//!
//! The algorithm is pinned: a token whose header says anything but
//! `{"alg":"HS256","typ":"JWT"}` (`alg: none`, `RS256`, a `kid`, a `jku`) is
//! refused before its signature is even looked at, so no header field can
//! choose how the token is checked. The signature is compared in constant time
//! (`hmac`'s `verify_slice`). The claims are ours only: issuer `ntsb`, subject
//! (user id), session (refresh family) id, issued-at, expiry and `typ: access`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::SigningSecret;

type HmacSha256 = Hmac<Sha256>;

/// The only header this program writes and accepts (base64url of
/// `{"alg":"HS256","typ":"JWT"}`).
const HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// Issuer claim of every token.
pub const ISSUER: &str = "ntsb";

/// Longest token accepted, in bytes (bounds the work spent on junk).
const MAX_TOKEN_LEN: usize = 2048;

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    typ: Option<String>,
}

/// Why a token was refused (for logs; the client only hears "401").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Not three base64url parts, or bad JSON.
    Malformed,
    /// The header names another algorithm (`none`, `RS256`, …) or extra fields.
    Algorithm,
    /// The signature does not match.
    Signature,
    /// Past its expiry.
    Expired,
    /// Wrong issuer or type, or issued in the future.
    Claims,
}

impl Rejection {
    /// A short reason for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Malformed => "malformed token",
            Rejection::Algorithm => "token algorithm not allowed",
            Rejection::Signature => "bad token signature",
            Rejection::Expired => "expired token",
            Rejection::Claims => "bad token claims",
        }
    }
}

fn mac(secret: &SigningSecret) -> HmacSha256 {
    // HMAC takes keys of any length; this cannot fail.
    <HmacSha256 as KeyInit>::new_from_slice(secret.bytes()).expect("HMAC accepts any key length")
}

/// Signs claims into a compact token.
pub fn sign(claims: &Claims, secret: &SigningSecret) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signing_input = format!("{HEADER}.{payload}");
    let mut m = mac(secret);
    m.update(signing_input.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    format!("{signing_input}.{sig}")
}

/// Checks a token's header, signature, expiry and claims at time `now`.
pub fn verify(token: &str, secret: &SigningSecret, now: i64) -> Result<Claims, Rejection> {
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
    if parsed.alg != "HS256" || parsed.typ.as_deref().is_some_and(|t| t != "JWT") {
        return Err(Rejection::Algorithm);
    }
    let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| Rejection::Malformed)?;
    let mut m = mac(secret);
    m.update(header.as_bytes());
    m.update(b".");
    m.update(payload.as_bytes());
    m.verify_slice(&sig).map_err(|_| Rejection::Signature)?;
    let body = URL_SAFE_NO_PAD.decode(payload).map_err(|_| Rejection::Malformed)?;
    let claims: Claims = serde_json::from_slice(&body).map_err(|_| Rejection::Malformed)?;
    if claims.iss != ISSUER || claims.typ != "access" || claims.iat > now + 60 {
        return Err(Rejection::Claims);
    }
    if claims.exp <= now {
        return Err(Rejection::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SigningSecret {
        SigningSecret::new(vec![7u8; 32], "test").unwrap()
    }

    fn claims(now: i64) -> Claims {
        Claims { iss: ISSUER.into(), sub: 42, sid: "fam".into(), iat: now, exp: now + 3600, typ: "access".into() }
    }

    #[test]
    fn the_header_constant_is_hs256() {
        assert_eq!(URL_SAFE_NO_PAD.decode(HEADER).unwrap(), br#"{"alg":"HS256","typ":"JWT"}"#);
    }

    #[test]
    fn signed_tokens_verify_until_they_expire() {
        let t = sign(&claims(1000), &secret());
        assert_eq!(verify(&t, &secret(), 1000).unwrap().sub, 42);
        assert_eq!(verify(&t, &secret(), 4599).unwrap().sid, "fam");
        assert_eq!(verify(&t, &secret(), 4600), Err(Rejection::Expired));
    }

    #[test]
    fn another_secret_or_a_tampered_payload_is_refused() {
        let t = sign(&claims(1000), &secret());
        let other = SigningSecret::new(vec![8u8; 32], "test").unwrap();
        assert_eq!(verify(&t, &other, 1000), Err(Rejection::Signature));
        let mut forged = claims(1000);
        forged.sub = 1;
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let parts: Vec<&str> = t.split('.').collect();
        let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(verify(&tampered, &secret(), 1000), Err(Rejection::Signature));
    }

    #[test]
    fn alg_none_and_other_algorithms_are_refused() {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(1000)).unwrap());
        for header in [
            r#"{"alg":"none","typ":"JWT"}"#,
            r#"{"alg":"None"}"#,
            r#"{"alg":"HS512","typ":"JWT"}"#,
            r#"{"alg":"RS256","typ":"JWT"}"#,
            r#"{"alg":"HS256","typ":"JWT","kid":"../../etc/passwd"}"#,
        ] {
            let h = URL_SAFE_NO_PAD.encode(header);
            assert_eq!(verify(&format!("{h}.{payload}."), &secret(), 1000), Err(Rejection::Algorithm), "{header}");
            assert_eq!(verify(&format!("{h}.{payload}"), &secret(), 1000), Err(Rejection::Malformed), "{header}");
        }
    }

    #[test]
    fn junk_is_malformed() {
        for t in ["", "a", "a.b", "a.b.c.d", "!!.!!.!!", &"a".repeat(5000)] {
            assert!(verify(t, &secret(), 0).is_err(), "{t}");
        }
    }

    #[test]
    fn wrong_type_or_issuer_is_refused() {
        let mut c = claims(1000);
        c.typ = "refresh".into();
        assert_eq!(verify(&sign(&c, &secret()), &secret(), 1000), Err(Rejection::Claims));
        let mut c = claims(1000);
        c.iss = "evil".into();
        assert_eq!(verify(&sign(&c, &secret()), &secret(), 1000), Err(Rejection::Claims));
    }
}
