//! The files a download page links to.
//!
//! NTSB's page links each file as `FileDirectory/DownloadFile?fileID=C:\avdata\avall.zip`:
//! the name is the last path segment or, when that names no file, the last
//! segment of a query value. A link is a candidate when that name has an
//! extension `ntsb ingest` reads (`.zip`, `.mdb`, `.accdb`, `.csv`, `.json`,
//! `.jsonl`); after the download the file is recognised by its content, as
//! `ntsb ingest` recognises it, and one it does not recognise is not loaded.

use url::Url;

/// Extensions of the files `ntsb ingest` reads.
pub const EXTENSIONS: &[&str] = &["zip", "mdb", "accdb", "csv", "json", "jsonl"];

/// A linked file: its absolute URL and the name it is saved under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Absolute URL.
    pub url: Url,
    /// File name (safe: letters, digits, `.`, `_`, `-`).
    pub name: String,
}

/// The candidate files linked from an HTML page at `base`, in page order,
/// each URL once.
pub fn extract(html: &str, base: &Url) -> Vec<Link> {
    let mut out: Vec<Link> = Vec::new();
    for href in hrefs(html) {
        let href = decode_entities(&href);
        let Ok(url) = base.join(href.trim()) else { continue };
        let mut url = url;
        url.set_fragment(None);
        let Some(name) = file_name(&url) else { continue };
        if !out.iter().any(|l| l.url == url) {
            out.push(Link { url, name });
        }
    }
    out
}

/// The file name a URL names, when it has an extension the readers know.
pub fn file_name(url: &Url) -> Option<String> {
    let from_path = url.path_segments().and_then(|mut s| s.next_back()).map(percent_decode);
    let mut names: Vec<String> = from_path.into_iter().collect();
    for (_, value) in url.query_pairs() {
        if let Some(last) = value.rsplit(['/', '\\']).next() {
            names.push(last.to_string());
        }
    }
    names.into_iter().map(|n| safe_name(&n)).find(|n| {
        let ext = n.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
        EXTENSIONS.contains(&ext.as_str())
    })
}

/// A name safe to create in the downloads directory.
fn safe_name(name: &str) -> String {
    let cleaned: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect();
    let cleaned = cleaned.trim_start_matches('.').to_string();
    cleaned.chars().take(200).collect()
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The values of every `href` attribute, quoted or not.
fn hrefs(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find("href") {
        let mut i = from + at + 4;
        from = i;
        // Only an attribute: preceded by whitespace, followed by `=`.
        let before = lower[..i - 4].chars().next_back();
        if !before.is_some_and(char::is_whitespace) {
            continue;
        }
        let rest = &html[i..];
        let trimmed = rest.trim_start();
        if !trimmed.starts_with('=') {
            continue;
        }
        i += rest.len() - trimmed.len() + 1;
        let value = html[i..].trim_start();
        let value = match value.chars().next() {
            Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or(""),
            Some(_) => value.split(|c: char| c.is_whitespace() || c == '>').next().unwrap_or(""),
            None => "",
        };
        if !value.is_empty() {
            out.push(value.to_string());
        }
    }
    out
}

fn decode_entities(s: &str) -> String {
    s.replace("&amp;", "&").replace("&#38;", "&").replace("&quot;", "\"").replace("&#39;", "'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntsb_style_links_name_their_file_in_the_query() {
        let base = Url::parse("https://data.ntsb.gov/avdata").unwrap();
        let html = r#"<html><body>
            <a href="FileDirectory/DownloadFile?fileID=C%3A%5Cavdata%5Cavall.zip">avall.zip</a>
            <a HREF='FileDirectory/DownloadFile?fileID=C:\avdata\up08JAN.zip'>up08JAN.zip</a>
            <a href=/docs/readme.pdf>readme</a>
            <a href="https://data.ntsb.gov/FileDirectory/DownloadFile?fileID=C%3A%5Cavdata%5Cavall.zip#x">dup</a>
            <link rel="stylesheet" href="site.css"><a data-href="x.csv">no</a>
            <a href="../other/AviationData.csv?x=1&amp;y=2">csv</a>
        </body></html>"#;
        let links = extract(html, &base);
        let names: Vec<&str> = links.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["avall.zip", "up08JAN.zip", "AviationData.csv"]);
        assert_eq!(links[0].url.host_str(), Some("data.ntsb.gov"));
        assert_eq!(links[2].url.as_str(), "https://data.ntsb.gov/other/AviationData.csv?x=1&y=2");
    }

    #[test]
    fn names_are_made_safe() {
        let u = Url::parse("https://h/d/%2E%2E%2Fpasswd%20x.csv").unwrap();
        assert_eq!(file_name(&u).as_deref(), Some("_passwd_x.csv"));
        assert_eq!(file_name(&Url::parse("https://h/index.html").unwrap()), None);
    }
}
