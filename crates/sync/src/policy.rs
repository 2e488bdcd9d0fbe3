//! Which hosts and addresses a sync may reach (server-side request forgery).
//!
//! The source URL comes from configuration, but the links on a download page,
//! the redirects a server answers with and the addresses a name resolves to do
//! not. So every request, the first and every redirect, is checked here:
//!
//! - its scheme is `http` or `https`, and it carries no credentials;
//! - its host is on the allowlist: a name allows that name (exactly, case
//!   insensitively), an address or a range (`10.0.0.0/8`) allows the addresses
//!   in it;
//! - every address the name resolves to is public, or is inside an address or
//!   range that is itself on the allowlist. Loopback, private, link-local,
//!   shared (CGNAT), unspecified, multicast, documentation and reserved
//!   addresses are refused otherwise: allowing a *name* never allows it to
//!   point inside the network (DNS rebinding), as Mastodon's
//!   `ALLOWED_PRIVATE_ADDRESSES` works.
//!
//! The addresses checked are the ones connected to: the HTTP client resolves
//! names only through [`Policy::resolve`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use ipnet::IpNet;
use url::{Host, Url};

use crate::error::{Error, Result};

/// The hosts NTSB's public download page lives on (the default allowlist).
pub const DEFAULT_ALLOWED_HOSTS: &[&str] = &["data.ntsb.gov"];

/// The allowlist of hosts and addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    names: Vec<String>,
    nets: Vec<IpNet>,
}

impl Policy {
    /// A policy from allowlist entries: host names, IP addresses or CIDR ranges.
    pub fn new<S: AsRef<str>>(entries: &[S]) -> Result<Policy> {
        let mut policy = Policy::default();
        for entry in entries {
            policy.allow(entry.as_ref())?;
        }
        Ok(policy)
    }

    /// Adds one entry (`data.ntsb.gov`, `127.0.0.1`, `[::1]`, `10.0.0.0/8`).
    pub fn allow(&mut self, entry: &str) -> Result<()> {
        let e = entry.trim();
        let bare = e.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            self.nets.push(IpNet::from(ip));
        } else if let Ok(net) = e.parse::<IpNet>() {
            self.nets.push(net.trunc());
        } else {
            let name = e.trim_end_matches('.').to_ascii_lowercase();
            let valid = !name.is_empty()
                && name.len() <= 253
                && name.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                });
            if !valid {
                return Err(Error::Setting(format!(
                    "allowed host {entry:?}: not a host name, an IP address or a CIDR range"
                )));
            }
            self.names.push(name);
        }
        Ok(())
    }

    /// Whether nothing at all is allowed.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.nets.is_empty()
    }

    /// Checks a URL before it is requested: scheme, credentials, host on the
    /// allowlist (an address host is checked as an address too).
    pub fn check_url(&self, url: &Url) -> Result<()> {
        let refused = |why: String| Error::Refused { url: redact(url), reason: why };
        if !matches!(url.scheme(), "http" | "https") {
            return Err(refused(format!("the scheme {:?} is not http or https", url.scheme())));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refused("a URL with credentials is not fetched".into()));
        }
        match url.host() {
            None => Err(refused("the URL has no host".into())),
            Some(Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if self.names.contains(&name) {
                    Ok(())
                } else {
                    Err(refused(format!("the host {name} is not on the allowlist (--allow-host)")))
                }
            }
            Some(Host::Ipv4(ip)) => self.check_address(&IpAddr::V4(ip)).map_err(refused),
            Some(Host::Ipv6(ip)) => self.check_address(&IpAddr::V6(ip)).map_err(refused),
        }
    }

    /// Whether a connection to `ip` is allowed: an address on the allowlist, or
    /// (for a host allowed by name) any public address.
    fn check_address(&self, ip: &IpAddr) -> std::result::Result<(), String> {
        if self.nets.iter().any(|n| n.contains(ip)) {
            return Ok(());
        }
        if is_public(ip) {
            // An address host must be listed itself; a name's public addresses pass.
            return Err(format!("the address {ip} is not on the allowlist (--allow-host)"));
        }
        Err(format!("{ip} is a {} address; allow it with --allow-host {ip}", kind(ip)))
    }

    /// Resolves `host` and checks every address it resolves to (all must be
    /// allowed: a mixed answer is refused whole). The addresses returned are
    /// the only ones the client connects to.
    pub fn resolve(&self, host: &str, port: u16) -> std::result::Result<Vec<SocketAddr>, String> {
        let addrs: Vec<SocketAddr> =
            (host, port).to_socket_addrs().map_err(|e| format!("{host}: cannot resolve: {e}"))?.collect();
        if addrs.is_empty() {
            return Err(format!("{host}: resolves to no address"));
        }
        for addr in &addrs {
            let ip = canonical(addr.ip());
            if self.nets.iter().any(|n| n.contains(&ip)) || is_public(&ip) {
                continue;
            }
            return Err(format!(
                "{host} resolves to {ip}, a {} address; allow that address with --allow-host {ip}",
                kind(&ip)
            ));
        }
        Ok(addrs)
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether an address is reachable on the public Internet (not loopback,
/// private, link-local, shared, unspecified, multicast, documentation, reserved).
pub fn is_public(ip: &IpAddr) -> bool {
    match canonical(*ip) {
        IpAddr::V4(v4) => v4_public(v4),
        IpAddr::V6(v6) => v6_public(v6),
    }
}

fn v4_public(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn v6_public(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64 (maps onto IPv4, possibly private)
        || s[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible (deprecated)
}

/// What kind of non-public address `ip` is, for messages.
fn kind(ip: &IpAddr) -> &'static str {
    match canonical(*ip) {
        IpAddr::V4(v4) if v4.is_loopback() => "loopback",
        IpAddr::V6(v6) if v6.is_loopback() => "loopback",
        IpAddr::V4(v4) if v4.is_link_local() => "link-local",
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => "link-local",
        IpAddr::V4(v4) if v4.is_private() => "private",
        IpAddr::V6(v6) if (v6.segments()[0] & 0xfe00) == 0xfc00 => "private",
        IpAddr::V4(v4) if v4.is_unspecified() => "unspecified",
        IpAddr::V6(v6) if v6.is_unspecified() => "unspecified",
        ip if is_public(&ip) => "public",
        _ => "non-public",
    }
}

/// A URL for messages and the state file: without credentials or query values
/// that could carry a token.
pub fn redact(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

/// The client's resolver: every name is resolved and checked by the policy
/// (on a blocking thread, as the system resolver blocks).
pub(crate) struct Resolver(pub(crate) std::sync::Arc<Policy>);

/// A refusal from the resolver, found again in the client error's causes.
#[derive(Debug)]
pub(crate) struct ResolveRefused(pub(crate) String);

impl std::fmt::Display for ResolveRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ResolveRefused {}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let checked = tokio::task::spawn_blocking(move || policy.resolve(&host, 0)).await.map_err(|e| {
                Box::new(ResolveRefused(format!("resolver: {e}"))) as Box<dyn std::error::Error + Send + Sync>
            })?;
            match checked {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs),
                Err(why) => Err(Box::new(ResolveRefused(why)) as Box<dyn std::error::Error + Send + Sync>),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn a_name_on_the_list_passes_and_another_is_refused() {
        let p = Policy::new(&["Data.NTSB.gov."]).unwrap();
        p.check_url(&url("https://data.ntsb.gov/avdata")).unwrap();
        p.check_url(&url("https://DATA.ntsb.gov./avdata")).unwrap();
        let err = p.check_url(&url("https://evil.example/avall.zip")).unwrap_err().to_string();
        assert!(err.contains("evil.example") && err.contains("allowlist"), "{err}");
        assert!(p.check_url(&url("https://sub.data.ntsb.gov/x")).is_err(), "no suffix matching");
    }

    #[test]
    fn schemes_other_than_http_and_credentials_are_refused() {
        let p = Policy::new(&["data.ntsb.gov"]).unwrap();
        assert!(p.check_url(&url("file:///etc/passwd")).is_err());
        assert!(p.check_url(&url("ftp://data.ntsb.gov/x")).is_err());
        assert!(p.check_url(&url("https://u:p@data.ntsb.gov/x")).is_err());
    }

    #[test]
    fn address_hosts_need_their_address_or_range_listed() {
        let p = Policy::new(&["127.0.0.1", "10.1.0.0/16", "[::1]"]).unwrap();
        p.check_url(&url("http://127.0.0.1:8080/")).unwrap();
        p.check_url(&url("http://10.1.2.3/")).unwrap();
        p.check_url(&url("http://[::1]:80/")).unwrap();
        let err = p.check_url(&url("http://127.0.0.2/")).unwrap_err().to_string();
        assert!(err.contains("loopback") && err.contains("--allow-host 127.0.0.2"), "{err}");
        assert!(
            p.check_url(&url("http://169.254.169.254/latest/meta-data/"))
                .unwrap_err()
                .to_string()
                .contains("link-local")
        );
        assert!(p.check_url(&url("http://8.8.8.8/")).is_err(), "a public address host must be listed too");
    }

    #[test]
    fn a_name_resolving_to_loopback_is_refused_unless_the_address_is_listed() {
        let by_name = Policy::new(&["localhost"]).unwrap();
        by_name.check_url(&url("http://localhost/")).unwrap();
        let err = by_name.resolve("localhost", 80).unwrap_err();
        assert!(err.contains("loopback"), "{err}");
        let with_address = Policy::new(&["localhost", "127.0.0.0/8", "::1"]).unwrap();
        assert!(!with_address.resolve("localhost", 80).unwrap().is_empty());
    }

    #[test]
    fn private_and_special_ranges_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            assert!(!is_public(&ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "140.172.1.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(&ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn bad_entries_are_refused_by_name() {
        for bad in ["", "exa mple.org", "http://data.ntsb.gov", "-a.org", "10.0.0.0/33"] {
            assert!(Policy::new(&[bad]).is_err(), "{bad:?}");
        }
    }
}
