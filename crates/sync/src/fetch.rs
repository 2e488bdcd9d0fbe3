//! One HTTP GET under the policy: redirects followed by hand (each hop checked),
//! conditional headers, the size limit, SHA-256 while the body streams into a
//! temporary file beside its destination.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, LOCATION};
use sha2::{Digest, Sha256};
use url::Url;

use crate::error::{Error, Result};
use crate::policy::{Policy, ResolveRefused, Resolver, redact};

/// Most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 5;

/// Validators of a earlier response, sent as `If-None-Match` / `If-Modified-Since`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// `ETag`.
    pub etag: Option<String>,
    /// `Last-Modified`.
    pub last_modified: Option<String>,
}

/// A body downloaded completely into a temporary file.
#[derive(Debug)]
pub struct Body {
    /// The URL that answered (after redirects).
    pub final_url: Url,
    /// The body, in the downloads directory's temporary area.
    pub file: tempfile::NamedTempFile,
    /// Bytes.
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
    /// Validators of this response.
    pub validators: Validators,
    /// `Content-Type`, lower case.
    pub content_type: String,
}

/// The answer to a GET.
#[derive(Debug)]
pub enum Fetched {
    /// 304: the file is the one remembered.
    NotModified,
    /// 200: the body.
    Body(Box<Body>),
}

/// The HTTP client of a sync.
pub struct Client {
    http: reqwest::blocking::Client,
    policy: Arc<Policy>,
    max_bytes: u64,
}

impl Client {
    /// A client under `policy` refusing bodies over `max_bytes`.
    pub fn new(policy: Policy, max_bytes: u64) -> Result<Client> {
        let policy = Arc::new(policy);
        let http = reqwest::blocking::Client::builder()
            .user_agent(concat!("ntsb-analytics/", env!("CARGO_PKG_VERSION"), " (ntsb sync)"))
            // Redirects are followed by hand so each hop is checked.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve names where the policy cannot check the addresses.
            .no_proxy()
            .dns_resolver(Arc::new(Resolver(policy.clone())))
            .connect_timeout(Duration::from_secs(30))
            // Per read and write, not for the whole body: a large file over a slow link still arrives.
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| Error::Setting(format!("HTTP client: {e}")))?;
        Ok(Client { http, policy, max_bytes })
    }

    /// The policy requests are checked against.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// GETs `url`, following up to [`MAX_REDIRECTS`] redirects (each checked by
    /// the policy), conditionally when `validators` are given; a body goes to a
    /// temporary file in `temp_dir`.
    pub fn get(&self, url: &Url, validators: Option<&Validators>, temp_dir: &Path) -> Result<Fetched> {
        let mut url = url.clone();
        for _ in 0..=MAX_REDIRECTS {
            self.policy.check_url(&url)?;
            let mut request = self.http.get(url.clone());
            if let Some(v) = validators {
                if let Some(etag) = &v.etag {
                    request = request.header(IF_NONE_MATCH, etag);
                }
                if let Some(modified) = &v.last_modified {
                    request = request.header(IF_MODIFIED_SINCE, modified);
                }
            }
            let response = request.send().map_err(|e| transport(&url, &e))?;
            let status = response.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let location = response.headers().get(LOCATION).and_then(|l| l.to_str().ok()).ok_or_else(|| {
                    Error::Transfer { url: redact(&url), reason: format!("{status} without a Location") }
                })?;
                let next = url.join(location).map_err(|e| Error::Transfer {
                    url: redact(&url),
                    reason: format!("redirect to an invalid Location {location:?}: {e}"),
                })?;
                tracing::debug!(from = %redact(&url), to = %redact(&next), "redirect");
                self.policy.check_url(&next).map_err(|e| match e {
                    Error::Refused { reason, .. } => {
                        Error::Refused { url: redact(&url), reason: format!("redirect to {}: {reason}", redact(&next)) }
                    }
                    other => other,
                })?;
                url = next;
                continue;
            }
            if status == StatusCode::NOT_MODIFIED {
                return Ok(Fetched::NotModified);
            }
            if status != StatusCode::OK {
                return Err(Error::Status { url: redact(&url), status: status.as_u16() });
            }
            return self.body(url, response, temp_dir).map(|b| Fetched::Body(Box::new(b)));
        }
        Err(Error::Transfer { url: redact(&url), reason: format!("more than {MAX_REDIRECTS} redirects") })
    }

    fn body(&self, url: Url, mut response: reqwest::blocking::Response, temp_dir: &Path) -> Result<Body> {
        let header = |name| response.headers().get(name).and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok());
        let announced = header(CONTENT_LENGTH).and_then(|v| v.trim().parse::<u64>().ok());
        let validators = Validators {
            etag: header(ETAG).map(str::to_string),
            last_modified: header(LAST_MODIFIED).map(str::to_string),
        };
        let content_type = header(CONTENT_TYPE).unwrap_or("").to_ascii_lowercase();
        if announced.is_some_and(|n| n > self.max_bytes) {
            return Err(Error::TooLarge { url: redact(&url), limit: self.max_bytes, announced });
        }
        std::fs::create_dir_all(temp_dir).map_err(|e| Error::io(temp_dir, e))?;
        let mut file = tempfile::Builder::new()
            .prefix("download-")
            .suffix(".part")
            .tempfile_in(temp_dir)
            .map_err(|e| Error::io(temp_dir, e))?;
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = response.read(&mut buf).map_err(|e| Error::Transfer {
                url: redact(&url),
                reason: format!("the transfer broke off after {bytes} bytes: {}", cause_chain(&e)),
            })?;
            if n == 0 {
                break;
            }
            bytes += n as u64;
            if bytes > self.max_bytes {
                return Err(Error::TooLarge { url: redact(&url), limit: self.max_bytes, announced });
            }
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n]).map_err(|e| Error::io(file.path(), e))?;
        }
        if let Some(expected) = announced
            && expected != bytes
        {
            return Err(Error::Transfer {
                url: redact(&url),
                reason: format!("truncated: {bytes} of the {expected} bytes announced arrived"),
            });
        }
        file.as_file().sync_all().map_err(|e| Error::io(file.path(), e))?;
        Ok(Body { final_url: url, file, bytes, sha256: hex::encode(hasher.finalize()), validators, content_type })
    }
}

/// A client error as ours: a refusal by the resolver stays a refusal.
fn transport(url: &Url, e: &reqwest::Error) -> Error {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(refused) = c.downcast_ref::<ResolveRefused>() {
            return Error::Refused { url: redact(url), reason: refused.0.clone() };
        }
        cause = c.source();
    }
    Error::Transfer { url: redact(url), reason: cause_chain(e) }
}

fn cause_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cause = c.source();
    }
    text
}
