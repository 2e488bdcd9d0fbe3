//! The encrypted container: a header, then the plaintext in 1 MiB chunks, each
//! sealed with XChaCha20-Poly1305 in the STREAM construction (Hoang, Reyhanitabar,
//! Rogaway, Vizár 2015; `aead::stream::StreamBE32`).
//!
//! ```text
//! header (41 bytes)   magic "NTSBOFFS" | version u16 BE (1) | key id (8) |
//!                     chunk size u32 BE (1 MiB) | nonce prefix (19 random bytes)
//! chunk 0..n-1        ciphertext of 1 MiB of plaintext + 16-byte tag
//! chunk n (last)      ciphertext of 0..=1 MiB + 16-byte tag
//! ```
//!
//! Chunk i's nonce is the archive's random prefix, i as a 32-bit big-endian
//! counter, and a byte that is 1 only on the last chunk. So a chunk moved,
//! dropped or repeated fails authentication (wrong counter), and an archive cut
//! at a chunk boundary fails too (its new last chunk was not sealed as last).
//! The whole header is the associated data of every chunk: changing the
//! version, key id or chunk size is detected as well.

use std::io::{Read, Write};

use chacha20poly1305::aead::stream::{DecryptorBE32, EncryptorBE32};
use chacha20poly1305::aead::{KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305};

use crate::key::{BackupKey, KEY_ID_LEN};
use crate::{Error, Result};

/// First bytes of every archive.
pub const MAGIC: &[u8; 8] = b"NTSBOFFS";
/// Container version this program writes and reads.
pub const VERSION: u16 = 1;
/// Plaintext bytes per chunk.
pub const CHUNK: usize = 1 << 20;
/// Poly1305 tag bytes after each chunk.
const TAG: usize = 16;
/// Random nonce prefix bytes (24-byte XNonce less STREAM's 5).
const PREFIX: usize = 19;
/// Bytes of the header.
pub const HEADER_LEN: usize = 8 + 2 + KEY_ID_LEN + 4 + PREFIX;

fn header(key: &BackupKey, prefix: &[u8; PREFIX]) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..10].copy_from_slice(&VERSION.to_be_bytes());
    h[10..18].copy_from_slice(&key.id());
    h[18..22].copy_from_slice(&(CHUNK as u32).to_be_bytes());
    h[22..].copy_from_slice(prefix);
    h
}

fn cipher(key: &BackupKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(Key::from_slice(key.bytes()))
}

/// Encrypts what is written to it into `inner`; [`EncryptWriter::finish`] seals
/// the last chunk and must be called (dropping it leaves a truncated archive,
/// which a restore refuses).
pub struct EncryptWriter<W: Write> {
    inner: W,
    stream: Option<EncryptorBE32<XChaCha20Poly1305>>,
    header: [u8; HEADER_LEN],
    buf: Vec<u8>,
    written: u64,
}

impl<W: Write> EncryptWriter<W> {
    /// Writes the header with a fresh random nonce prefix.
    pub fn new(mut inner: W, key: &BackupKey) -> Result<EncryptWriter<W>> {
        let mut prefix = [0u8; PREFIX];
        getrandom::fill(&mut prefix)
            .map_err(|e| Error::Io { context: "random nonce".into(), source: std::io::Error::other(e.to_string()) })?;
        let header = header(key, &prefix);
        inner.write_all(&header).map_err(Error::io("writing the archive"))?;
        let stream = EncryptorBE32::from_aead(cipher(key), prefix.as_slice().into());
        Ok(EncryptWriter {
            inner,
            stream: Some(stream),
            header,
            buf: Vec::with_capacity(2 * CHUNK),
            written: HEADER_LEN as u64,
        })
    }

    /// Seals the last chunk, flushes, and returns the inner writer and the bytes written.
    pub fn finish(mut self) -> Result<(W, u64)> {
        let stream = self.stream.take().ok_or_else(|| Error::Format("archive already finished".into()))?;
        let sealed = stream
            .encrypt_last(Payload { msg: &self.buf, aad: &self.header })
            .map_err(|_| Error::Format("encryption failed".into()))?;
        self.inner.write_all(&sealed).map_err(Error::io("writing the archive"))?;
        self.inner.flush().map_err(Error::io("writing the archive"))?;
        self.written += sealed.len() as u64;
        Ok((self.inner, self.written))
    }

    /// Seals every full chunk but the last one held back (which may be the last).
    fn seal_full_chunks(&mut self) -> std::io::Result<()> {
        let mut start = 0;
        while self.buf.len() - start > CHUNK {
            let stream = self.stream.as_mut().ok_or_else(|| std::io::Error::other("archive already finished"))?;
            let sealed = stream
                .encrypt_next(Payload { msg: &self.buf[start..start + CHUNK], aad: &self.header })
                .map_err(|_| std::io::Error::other("encryption failed (more than 2^32 chunks)"))?;
            self.inner.write_all(&sealed)?;
            self.written += sealed.len() as u64;
            start += CHUNK;
        }
        self.buf.drain(..start);
        Ok(())
    }
}

impl<W: Write> Write for EncryptWriter<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() > CHUNK {
            self.seal_full_chunks()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Reads `buf.len()` bytes unless the input ends first; returns how many were read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io { context: "reading the archive".into(), source: e }),
        }
    }
    Ok(n)
}

/// Checks the header of an archive against `key`: the magic, the version, the
/// key id (a wrong key is refused here, naming both ids), the chunk size.
fn read_header(r: &mut impl Read, key: &BackupKey) -> Result<([u8; HEADER_LEN], [u8; PREFIX])> {
    let mut h = [0u8; HEADER_LEN];
    let n = read_full(r, &mut h)?;
    if n < HEADER_LEN {
        if n >= 8 && &h[..8] != MAGIC {
            return Err(Error::Format("it does not start with NTSBOFFS".into()));
        }
        return Err(Error::Truncated(format!("{n} bytes, shorter than the {HEADER_LEN}-byte header")));
    }
    if &h[..8] != MAGIC {
        return Err(Error::Format("it does not start with NTSBOFFS".into()));
    }
    let version = u16::from_be_bytes([h[8], h[9]]);
    if version != VERSION {
        return Err(Error::Format(format!("container version {version}; this program reads version {VERSION}")));
    }
    if h[10..18] != key.id() {
        return Err(Error::WrongKey { archive: hex::encode(&h[10..18]), given: key.id_hex() });
    }
    let chunk = u32::from_be_bytes([h[18], h[19], h[20], h[21]]);
    if chunk as usize != CHUNK {
        return Err(Error::Format(format!("chunk size {chunk}; version {VERSION} uses {CHUNK}")));
    }
    let mut prefix = [0u8; PREFIX];
    prefix.copy_from_slice(&h[22..]);
    Ok((h, prefix))
}

/// Decrypts an archive from `input` into `output`, authenticating every chunk;
/// returns the plaintext bytes. On any error, what was written to `output` must
/// be thrown away (it is a prefix at most: nothing unauthenticated is written).
pub fn decrypt(mut input: impl Read, mut output: impl Write, key: &BackupKey) -> Result<u64> {
    let (header, prefix) = read_header(&mut input, key)?;
    let mut stream = DecryptorBE32::from_aead(cipher(key), prefix.as_slice().into());
    let sealed_len = CHUNK + TAG;
    let mut current = vec![0u8; sealed_len];
    let mut next = vec![0u8; sealed_len];
    let mut current_len = read_full(&mut input, &mut current)?;
    if current_len == 0 {
        return Err(Error::Truncated("no chunk after the header".into()));
    }
    let mut chunk = 0u64;
    let mut plain = 0u64;
    loop {
        let next_len = if current_len == sealed_len { read_full(&mut input, &mut next)? } else { 0 };
        let payload = Payload { msg: &current[..current_len], aad: &header };
        if next_len == 0 {
            let data = stream.decrypt_last(payload).map_err(|_| Error::Tampered { chunk })?;
            output.write_all(&data).map_err(Error::io("writing the decrypted archive"))?;
            plain += data.len() as u64;
            output.flush().map_err(Error::io("writing the decrypted archive"))?;
            return Ok(plain);
        }
        let data = stream.decrypt_next(payload).map_err(|_| Error::Tampered { chunk })?;
        output.write_all(&data).map_err(Error::io("writing the decrypted archive"))?;
        plain += data.len() as u64;
        std::mem::swap(&mut current, &mut next);
        current_len = next_len;
        chunk += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> BackupKey {
        BackupKey::from_bytes([b; 32])
    }

    fn seal(plain: &[u8], k: &BackupKey) -> Vec<u8> {
        let mut w = EncryptWriter::new(Vec::new(), k).unwrap();
        // Odd write sizes, to cross chunk boundaries inside a write.
        for part in plain.chunks(333_333) {
            w.write_all(part).unwrap();
        }
        w.finish().unwrap().0
    }

    fn open(sealed: &[u8], k: &BackupKey) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        decrypt(sealed, &mut out, k)?;
        Ok(out)
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn round_trips_at_every_chunk_boundary() {
        let k = key(1);
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 5] {
            let plain = sample(len);
            let sealed = seal(&plain, &k);
            let chunks = len / CHUNK + usize::from(len % CHUNK != 0 || len == 0);
            assert_eq!(sealed.len(), HEADER_LEN + len + chunks * TAG, "len {len}");
            assert_eq!(open(&sealed, &k).unwrap(), plain, "len {len}");
        }
    }

    #[test]
    fn two_archives_of_the_same_data_differ() {
        let k = key(1);
        assert_ne!(seal(b"same", &k), seal(b"same", &k));
    }

    #[test]
    fn a_wrong_key_is_refused_by_id() {
        let sealed = seal(b"secret rows", &key(1));
        let err = open(&sealed, &key(2)).unwrap_err();
        assert!(matches!(err, Error::WrongKey { .. }), "{err}");
        assert!(err.to_string().contains(&key(1).id_hex()) && err.to_string().contains("wrong backup key"));
    }

    #[test]
    fn a_changed_byte_anywhere_is_refused() {
        let k = key(1);
        let sealed = seal(&sample(2 * CHUNK + 10), &k);
        for at in [HEADER_LEN, HEADER_LEN + CHUNK / 2, HEADER_LEN + CHUNK + TAG + 3, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[at] ^= 0x01;
            assert!(matches!(open(&bad, &k), Err(Error::Tampered { .. })), "byte {at}");
        }
        // The header is authenticated too (the nonce prefix; the key id is checked first).
        let mut bad = sealed.clone();
        bad[HEADER_LEN - 1] ^= 0x01;
        assert!(matches!(open(&bad, &k), Err(Error::Tampered { chunk: 0 })));
        let mut bad = sealed.clone();
        bad[9] = 9;
        assert!(matches!(open(&bad, &k), Err(Error::Format(_))));
        assert!(matches!(open(b"PK\x03\x04 not ours at all, a zip file header and more", &k), Err(Error::Format(_))));
    }

    #[test]
    fn truncated_reordered_or_extended_archives_are_refused() {
        let k = key(1);
        let sealed = seal(&sample(3 * CHUNK + 10), &k);
        let sealed_chunk = CHUNK + TAG;
        // Cut at a chunk boundary: the new last chunk was not sealed as the last.
        for chunks in [1, 2, 3] {
            let cut = &sealed[..HEADER_LEN + chunks * sealed_chunk];
            assert!(matches!(open(cut, &k), Err(Error::Tampered { .. })), "{chunks} chunks");
        }
        assert!(matches!(open(&sealed[..sealed.len() - 1], &k), Err(Error::Tampered { .. })));
        assert!(matches!(open(&sealed[..HEADER_LEN], &k), Err(Error::Truncated(_))));
        assert!(matches!(open(&sealed[..20], &k), Err(Error::Truncated(_))));
        // Two chunks swapped.
        let mut swapped = sealed[..HEADER_LEN].to_vec();
        swapped.extend_from_slice(&sealed[HEADER_LEN + sealed_chunk..HEADER_LEN + 2 * sealed_chunk]);
        swapped.extend_from_slice(&sealed[HEADER_LEN..HEADER_LEN + sealed_chunk]);
        swapped.extend_from_slice(&sealed[HEADER_LEN + 2 * sealed_chunk..]);
        assert!(matches!(open(&swapped, &k), Err(Error::Tampered { chunk: 0 })));
        // Bytes appended after the last chunk.
        let mut longer = sealed.clone();
        longer.extend_from_slice(&[0u8; 40]);
        assert!(matches!(open(&longer, &k), Err(Error::Tampered { .. })));
    }
}
