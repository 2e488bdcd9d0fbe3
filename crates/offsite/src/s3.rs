//! S3-compatible object storage: `rusty-s3` signs each request (presigned URLs,
//! AWS Signature V4) and a blocking `reqwest` client over rustls sends it.
//!
//! A request's URL carries its signature, so errors are reported without it
//! (`reqwest::Error::without_url`) and S3 error bodies only by their code and
//! message.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use rusty_s3::actions::ListObjectsV2;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use url::Url;

use crate::{Error, Result};

/// How long a signed request stays valid: long enough for a large upload to start.
const SIGNED_FOR: Duration = Duration::from_secs(3600);

/// `s3://bucket/prefix`: where archives go. The prefix has no leading or trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix (a "folder"), possibly empty.
    pub prefix: String,
}

impl Location {
    /// Parses `s3://bucket[/prefix]`.
    pub fn parse(text: &str) -> Result<Location> {
        let rest = text
            .strip_prefix("s3://")
            .ok_or_else(|| Error::Location(format!("{text}: an off-site location is s3://BUCKET[/PREFIX]")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !valid_bucket {
            return Err(Error::Location(format!(
                "{text}: bucket name must be 3 to 63 lower-case letters, digits, '-' and '.'"
            )));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|p| p == "." || p == "..") || prefix.contains("//") {
            return Err(Error::Location(format!("{text}: the prefix must not hold empty, '.' or '..' parts")));
        }
        Ok(Location { bucket: bucket.to_string(), prefix: prefix.to_string() })
    }

    /// The object key of `name` under the prefix.
    pub fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() { name.to_string() } else { format!("{}/{name}", self.prefix) }
    }

    /// The prefix to list (with its trailing `/`).
    fn list_prefix(&self) -> String {
        if self.prefix.is_empty() { String::new() } else { format!("{}/", self.prefix) }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// How to reach the object store. `Debug` never shows the secret key or token.
#[derive(Clone)]
pub struct S3Settings {
    /// Endpoint of an S3-compatible service (MinIO, Ceph, moto…), addressed
    /// path-style; `None` is AWS (`https://s3.REGION.amazonaws.com`, virtual-host style).
    pub endpoint: Option<Url>,
    /// Region (signing scope).
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint.as_ref().map(Url::as_str))
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// An object in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Full key.
    pub key: String,
    /// Bytes.
    pub size: u64,
}

/// A bucket and the credentials to use it.
pub struct S3Client {
    bucket: Bucket,
    credentials: Credentials,
    http: reqwest::blocking::Client,
}

impl S3Client {
    /// A client of `location`'s bucket.
    pub fn new(settings: &S3Settings, location: &Location) -> Result<S3Client> {
        let (endpoint, style) = match &settings.endpoint {
            Some(url) => (url.clone(), UrlStyle::Path),
            None => {
                let url = format!("https://s3.{}.amazonaws.com", settings.region);
                (
                    Url::parse(&url).map_err(|e| Error::Location(format!("region {}: {e}", settings.region)))?,
                    UrlStyle::VirtualHost,
                )
            }
        };
        let bucket = Bucket::new(endpoint, style, location.bucket.clone(), settings.region.clone())
            .map_err(|e| Error::Location(format!("S3 endpoint: {e}")))?;
        let credentials = match &settings.session_token {
            Some(token) => Credentials::new_with_token(
                settings.access_key_id.clone(),
                settings.secret_access_key.clone(),
                token.clone(),
            ),
            None => Credentials::new(settings.access_key_id.clone(), settings.secret_access_key.clone()),
        };
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            // Archives of gigabytes take minutes: no overall time limit.
            .timeout(None)
            .build()
            .map_err(|e| Error::S3(format!("HTTP client: {}", e.without_url())))?;
        Ok(S3Client { bucket, credentials, http })
    }

    /// Uploads the file at `path` as `key`.
    pub fn put_file(&self, key: &str, path: &Path) -> Result<()> {
        let url = self.bucket.put_object(Some(&self.credentials), key).sign(SIGNED_FOR);
        let file = File::open(path).map_err(Error::io(format!("opening {}", path.display())))?;
        let response = self.http.put(url).body(file).send().map_err(|e| transport(e, "PUT", key))?;
        check(response, "PUT", key).map(|_| ())
    }

    /// Uploads `data` as `key` (small objects; tests).
    pub fn put_bytes(&self, key: &str, data: Vec<u8>) -> Result<()> {
        let url = self.bucket.put_object(Some(&self.credentials), key).sign(SIGNED_FOR);
        let response = self.http.put(url).body(data).send().map_err(|e| transport(e, "PUT", key))?;
        check(response, "PUT", key).map(|_| ())
    }

    /// Downloads `key` into `out`; returns the bytes.
    pub fn get_to(&self, key: &str, out: &mut impl Write) -> Result<u64> {
        let url = self.bucket.get_object(Some(&self.credentials), key).sign(SIGNED_FOR);
        let response = self.http.get(url).send().map_err(|e| transport(e, "GET", key))?;
        let mut response = check(response, "GET", key)?;
        response.copy_to(out).map_err(|e| transport(e, "GET", key))
    }

    /// Deletes `key`.
    pub fn delete(&self, key: &str) -> Result<()> {
        let url = self.bucket.delete_object(Some(&self.credentials), key).sign(SIGNED_FOR);
        let response = self.http.delete(url).send().map_err(|e| transport(e, "DELETE", key))?;
        check(response, "DELETE", key).map(|_| ())
    }

    /// Creates the bucket (tests; production buckets are made by their operators).
    pub fn create_bucket(&self) -> Result<()> {
        let url = self.bucket.create_bucket(&self.credentials).sign(SIGNED_FOR);
        let response = self.http.put(url).body(Vec::new()).send().map_err(|e| transport(e, "PUT", "bucket"))?;
        check(response, "PUT", "bucket").map(|_| ())
    }

    /// Every object directly under `location`'s prefix (not in deeper "folders").
    pub fn list(&self, location: &Location) -> Result<Vec<Object>> {
        let prefix = location.list_prefix();
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = self.bucket.list_objects_v2(Some(&self.credentials));
            action.with_prefix(prefix.as_str());
            action.with_delimiter("/");
            if let Some(t) = &token {
                action.with_continuation_token(t.as_str());
            }
            let url = action.sign(SIGNED_FOR);
            let response = self.http.get(url).send().map_err(|e| transport(e, "LIST", &prefix))?;
            let text = check(response, "LIST", &prefix)?.text().map_err(|e| transport(e, "LIST", &prefix))?;
            let parsed = ListObjectsV2::parse_response(&text)
                .map_err(|e| Error::S3(format!("LIST {prefix}: unreadable answer ({e})")))?;
            out.extend(parsed.contents.into_iter().map(|c| Object { key: c.key, size: c.size }));
            match parsed.next_continuation_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(out),
            }
        }
    }
}

fn transport(e: reqwest::Error, method: &str, key: &str) -> Error {
    Error::S3(format!("{method} {key}: {}", e.without_url()))
}

/// The response if it succeeded; else an error with S3's code and message.
fn check(response: reqwest::blocking::Response, method: &str, key: &str) -> Result<reqwest::blocking::Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().unwrap_or_default();
    let field = |name: &str| {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find(&format!("</{name}>"))? + start;
        Some(body[start..end].chars().take(200).collect::<String>())
    };
    let detail = match (field("Code"), field("Message")) {
        (Some(code), Some(message)) => format!(": {code}: {message}"),
        (Some(code), None) => format!(": {code}"),
        _ => String::new(),
    };
    Err(Error::S3(format!("{method} {key}: HTTP {}{detail}", status.as_u16())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_bad_ones_are_refused() {
        let l = Location::parse("s3://my-bucket/ntsb/prod/").unwrap();
        assert_eq!((l.bucket.as_str(), l.prefix.as_str()), ("my-bucket", "ntsb/prod"));
        assert_eq!(l.key("a.enc"), "ntsb/prod/a.enc");
        assert_eq!(Location::parse("s3://bkt").unwrap().key("a"), "a");
        for bad in ["http://b/p", "s3://", "s3://B/p", "s3://ab", "s3://bucket/a/../b", "s3://bucket/a//b"] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_never_show_the_secret() {
        let s = S3Settings {
            endpoint: None,
            region: "eu-west-1".into(),
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/SECRET".into(),
            session_token: Some("TOKEN123".into()),
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains("SECRET") && !shown.contains("TOKEN123"), "{shown}");
    }
}
