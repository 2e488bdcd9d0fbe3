//! Encrypted off-site backups of the store to S3-compatible object storage.
//!
//! `ntsb db backup --to s3://BUCKET/PREFIX` takes a backup directory with
//! [`ntsb_store::backup::backup`] (a consistent snapshot, on either backend),
//! packs it as one archive — tar, then zstd, then encrypted on this machine in
//! the [`crypt`] container (XChaCha20-Poly1305 in 1 MiB chunks) — and uploads it
//! as `PREFIX/ntsb-backup-YYYYMMDDTHHMMSSZ.tar.zst.enc`. The object store never
//! sees a byte of plaintext, nor the key.
//!
//! A restore downloads an archive (the newest by default), decrypts the whole of
//! it into a temporary file, authenticating every chunk, and only then unpacks
//! it and hands the directory to [`ntsb_store::backup::restore`], which verifies
//! its manifest and checksums again before it replaces anything. A wrong key, a
//! changed byte or a shortened archive is refused before the store is touched.
//!
//! [`retention::select`] decides which archives a prune keeps.

pub mod crypt;
mod error;
pub mod key;
pub mod retention;
pub mod s3;

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};
use ntsb_store::Store;
use ntsb_store::backup::Manifest;

pub use error::{Error, Result};
pub use key::BackupKey;
pub use retention::{Retention, Selection};
pub use s3::{Location, S3Client, S3Settings};

/// Start of every archive's name.
pub const ARCHIVE_PREFIX: &str = "ntsb-backup-";
/// End of every archive's name.
pub const ARCHIVE_SUFFIX: &str = ".tar.zst.enc";
/// Time format inside the name (UTC), so names sort by time.
const NAME_TIME: &str = "%Y%m%dT%H%M%SZ";
/// Name of the backup directory inside the tar.
const TAR_DIR: &str = "backup";
/// zstd level: 3 (zstd's default) compresses the JSON lines about 8-fold at
/// hundreds of MB/s; higher levels cost far more time for a few per cent.
const ZSTD_LEVEL: i32 = 3;

/// The archive name of a backup taken at `at`.
pub fn archive_name(at: DateTime<Utc>) -> String {
    format!("{ARCHIVE_PREFIX}{}{ARCHIVE_SUFFIX}", at.format(NAME_TIME))
}

/// The time in an archive name written by [`archive_name`], if it is one.
pub fn archive_time(name: &str) -> Option<DateTime<Utc>> {
    let time = name.strip_prefix(ARCHIVE_PREFIX)?.strip_suffix(ARCHIVE_SUFFIX)?;
    NaiveDateTime::parse_from_str(time, NAME_TIME).ok().map(|t| t.and_utc())
}

/// Parses a restore source: `s3://BUCKET/PREFIX` (the newest archive there) or
/// `s3://BUCKET/PREFIX/NAME` (that archive).
pub fn parse_source(text: &str) -> Result<(Location, Option<String>)> {
    let location = Location::parse(text)?;
    match location.prefix.rsplit_once('/').map_or(("", location.prefix.as_str()), |(p, n)| (p, n)) {
        (prefix, name) if name.ends_with(ARCHIVE_SUFFIX) => {
            Ok((Location { bucket: location.bucket, prefix: prefix.to_string() }, Some(name.to_string())))
        }
        _ => Ok((location, None)),
    }
}

/// Packs the backup directory `dir` into the encrypted archive `out`; returns its bytes.
pub fn pack(dir: &Path, out: &Path, key: &BackupKey) -> Result<u64> {
    let file = File::create(out).map_err(Error::io(format!("creating {}", out.display())))?;
    let encrypt = crypt::EncryptWriter::new(BufWriter::with_capacity(1 << 20, file), key)?;
    let zstd = zstd::Encoder::new(encrypt, ZSTD_LEVEL).map_err(Error::io("starting zstd"))?;
    let mut tar = tar::Builder::new(zstd);
    tar.append_dir_all(TAR_DIR, dir).map_err(Error::io(format!("archiving {}", dir.display())))?;
    let zstd = tar.into_inner().map_err(Error::io("finishing the tar"))?;
    let encrypt = zstd.finish().map_err(Error::io("finishing zstd"))?;
    let (writer, bytes) = encrypt.finish()?;
    let file = writer.into_inner().map_err(|e| Error::io("writing the archive")(e.into_error()))?;
    file.sync_all().map_err(Error::io("writing the archive"))?;
    Ok(bytes)
}

/// Decrypts and authenticates the whole archive at `archive` into `work`, then
/// unpacks it there; returns the backup directory. Nothing is unpacked unless
/// every chunk authenticated.
pub fn unpack(archive: &Path, key: &BackupKey, work: &Path) -> Result<PathBuf> {
    let input = File::open(archive).map_err(Error::io(format!("opening {}", archive.display())))?;
    let plain_path = work.join("archive.tar.zst");
    let plain = File::create(&plain_path).map_err(Error::io("creating the decrypted archive"))?;
    crypt::decrypt(BufReader::with_capacity(1 << 20, input), BufWriter::with_capacity(1 << 20, plain), key)?;
    let plain = File::open(&plain_path).map_err(Error::io("reading the decrypted archive"))?;
    let zstd = zstd::Decoder::new(plain).map_err(Error::io("starting zstd"))?;
    let dest = work.join("unpacked");
    tar::Archive::new(zstd).unpack(&dest).map_err(Error::io("unpacking the archive"))?;
    std::fs::remove_file(&plain_path).map_err(Error::io("removing the decrypted archive"))?;
    let dir = dest.join(TAR_DIR);
    if !dir.join(ntsb_store::backup::MANIFEST).is_file() {
        return Err(Error::Format(format!("the archive holds no {TAR_DIR}/{}", ntsb_store::backup::MANIFEST)));
    }
    Ok(dir)
}

/// What an off-site backup uploaded.
#[derive(Debug, Clone)]
pub struct Uploaded {
    /// Object key.
    pub key: String,
    /// Bytes uploaded.
    pub bytes: u64,
    /// The backup's manifest.
    pub manifest: Manifest,
}

/// Backs `store` up to `location`, as an archive named for `at`. Temporary
/// files (the backup directory and the archive) go under `work` and are removed.
pub fn backup_to(
    store: &dyn Store,
    client: &S3Client,
    location: &Location,
    key: &BackupKey,
    at: DateTime<Utc>,
    work: &Path,
) -> Result<Uploaded> {
    let tmp = temp_dir(work)?;
    let dir = tmp.path().join(TAR_DIR);
    let manifest = ntsb_store::backup::backup(store, &dir)?;
    let archive = tmp.path().join("archive");
    let bytes = pack(&dir, &archive, key)?;
    std::fs::remove_dir_all(&dir).map_err(Error::io("removing the local backup directory"))?;
    let object = location.key(&archive_name(at));
    client.put_file(&object, &archive)?;
    Ok(Uploaded { key: object, bytes, manifest })
}

/// The archives under `location`, with their times, newest first.
pub fn archives(client: &S3Client, location: &Location) -> Result<Vec<(String, DateTime<Utc>, u64)>> {
    let mut found: Vec<(String, DateTime<Utc>, u64)> = client
        .list(location)?
        .into_iter()
        .filter_map(|o| {
            let name = o.key.rsplit('/').next().unwrap_or(&o.key).to_string();
            archive_time(&name).map(|t| (name, t, o.size))
        })
        .collect();
    found.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    Ok(found)
}

/// What a restore restored.
#[derive(Debug, Clone)]
pub struct Restored {
    /// Object key of the archive.
    pub key: String,
    /// Bytes downloaded.
    pub bytes: u64,
    /// The backup's manifest.
    pub manifest: Manifest,
}

/// Restores `store` from the archive `name` under `location` (the newest when
/// `None`). Refused, with the store unchanged, unless the archive decrypts with
/// `key`, authenticates whole, and its backup verifies.
pub fn restore_from(
    store: &dyn Store,
    client: &S3Client,
    location: &Location,
    name: Option<&str>,
    key: &BackupKey,
    work: &Path,
) -> Result<Restored> {
    let name = match name {
        Some(n) => n.to_string(),
        None => archives(client, location)?
            .into_iter()
            .next()
            .map(|(n, _, _)| n)
            .ok_or_else(|| Error::NoArchive(location.to_string()))?,
    };
    let object = location.key(&name);
    let tmp = temp_dir(work)?;
    let archive = tmp.path().join("archive");
    let mut file = BufWriter::new(File::create(&archive).map_err(Error::io("creating the download file"))?);
    let bytes = client.get_to(&object, &mut file)?;
    drop(file);
    let dir = unpack(&archive, key, tmp.path())?;
    let manifest = ntsb_store::backup::restore(store, &dir)?;
    Ok(Restored { key: object, bytes, manifest })
}

/// Applies `policy` to the archives under `location`, deleting what it does not
/// keep (nothing when `dry_run`); returns the decision.
pub fn prune(client: &S3Client, location: &Location, policy: Retention, dry_run: bool) -> Result<Selection> {
    let found: Vec<(String, DateTime<Utc>)> = archives(client, location)?.into_iter().map(|(n, t, _)| (n, t)).collect();
    let selection = retention::select(&found, policy);
    if !dry_run {
        for name in &selection.delete {
            client.delete(&location.key(name))?;
        }
    }
    Ok(selection)
}

fn temp_dir(work: &Path) -> Result<tempfile::TempDir> {
    std::fs::create_dir_all(work).map_err(Error::io(format!("creating {}", work.display())))?;
    tempfile::Builder::new()
        .prefix(".ntsb-offsite-")
        .tempdir_in(work)
        .map_err(Error::io(format!("creating a temporary directory in {}", work.display())))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn names_carry_the_time_and_sources_parse() {
        let at = Utc.with_ymd_and_hms(2026, 12, 7, 18, 42, 5).unwrap();
        let name = archive_name(at);
        assert_eq!(name, "ntsb-backup-20261207T184205Z.tar.zst.enc");
        assert_eq!(archive_time(&name), Some(at));
        assert_eq!(archive_time("notes.txt"), None);
        let (l, n) = parse_source("s3://bkt/a/b").unwrap();
        assert_eq!((l.prefix.as_str(), n), ("a/b", None));
        let (l, n) = parse_source(&format!("s3://bkt/a/{name}")).unwrap();
        assert_eq!((l.prefix.as_str(), n.as_deref()), ("a", Some(name.as_str())));
        let (l, n) = parse_source(&format!("s3://bkt/{name}")).unwrap();
        assert_eq!((l.prefix.as_str(), n.as_deref()), ("", Some(name.as_str())));
    }

    #[test]
    fn pack_and_unpack_round_trip_and_a_wrong_key_unpacks_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("b");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join(ntsb_store::backup::MANIFEST), b"{}").unwrap();
        std::fs::write(dir.join("events.jsonl"), "[1,\"x\"]\n".repeat(100_000)).unwrap();
        let key = BackupKey::from_bytes([3; 32]);
        let archive = tmp.path().join("a.enc");
        let bytes = pack(&dir, &archive, &key).unwrap();
        assert_eq!(bytes, std::fs::metadata(&archive).unwrap().len());
        let work = tmp.path().join("w");
        std::fs::create_dir(&work).unwrap();
        let out = unpack(&archive, &key, &work).unwrap();
        assert_eq!(std::fs::read(out.join("events.jsonl")).unwrap(), std::fs::read(dir.join("events.jsonl")).unwrap());
        let work2 = tmp.path().join("w2");
        std::fs::create_dir(&work2).unwrap();
        let err = unpack(&archive, &BackupKey::from_bytes([4; 32]), &work2).unwrap_err();
        assert!(matches!(err, Error::WrongKey { .. }));
        assert!(!work2.join("unpacked").exists());
    }
}
