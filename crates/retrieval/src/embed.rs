//! [`Embedder`]: a BERT sentence-embedding model (all-MiniLM-L6-v2 and its
//! kind) run in process with candle, and the chunking of long texts.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use sha2::{Digest, Sha256};
use tokenizers::Tokenizer;

use crate::error::{Error, Result};

/// Tokens of one chunk, `[CLS]` and `[SEP]` included: the length
/// all-MiniLM-L6-v2 was trained on (its tokenizer truncates there too).
pub const CHUNK_TOKENS: usize = 128;
/// Tokens shared by two neighbouring chunks of one text, so a sentence cut by a
/// chunk boundary is whole in one of them.
pub const CHUNK_OVERLAP: usize = 16;
/// Chunks embedded per forward pass (sorted by length, so padding stays small).
const BATCH: usize = 32;

/// A span of a text cut out for embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First byte of the span in its text.
    pub start: usize,
    /// Byte after the span.
    pub end: usize,
}

/// The chunks of one text: each span with its unit vector, in text order.
pub type Chunks = Vec<(Span, Vec<f32>)>;

/// A sentence-embedding model loaded from a directory in Hugging Face layout
/// (`config.json`, `tokenizer.json`, `model.safetensors`): BERT, mean pooling
/// over the tokens, L2 normalisation, so the dot product of two embeddings is
/// their cosine similarity.
pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    dims: usize,
    cls: u32,
    sep: u32,
    fingerprint: String,
    dir: PathBuf,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder").field("dir", &self.dir).field("dims", &self.dims).finish_non_exhaustive()
    }
}

impl Embedder {
    /// Loads the model in `dir`. Every missing or unreadable file is named in
    /// the error; nothing is downloaded.
    pub fn load(dir: &Path) -> Result<Embedder> {
        if !dir.is_dir() {
            return Err(Error::model(dir, "not a directory (expected a model in Hugging Face layout)"));
        }
        let file = |name: &str| {
            let p = dir.join(name);
            if p.is_file() { Ok(p) } else { Err(Error::model(&p, "missing from the model directory")) }
        };
        let config_path = file("config.json")?;
        let tokenizer_path = file("tokenizer.json")?;
        let weights_path = file("model.safetensors")?;

        let config_text = std::fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?;
        let config: Config = serde_json::from_str(&config_text)
            .map_err(|e| Error::model(&config_path, format!("not a BERT configuration: {e}")))?;
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| Error::model(&tokenizer_path, format!("not a tokenizer: {e}")))?;
        // Chunking decides the lengths: no truncation or padding by the tokenizer.
        tokenizer
            .with_truncation(None)
            .map_err(|e| Error::model(&tokenizer_path, format!("cannot disable truncation: {e}")))?;
        tokenizer.with_padding(None);
        let special = |token: &str| {
            tokenizer
                .token_to_id(token)
                .ok_or_else(|| Error::model(&tokenizer_path, format!("the vocabulary has no {token} token")))
        };
        let (cls, sep) = (special("[CLS]")?, special("[SEP]")?);

        let weights = std::fs::read(&weights_path).map_err(|e| Error::io(&weights_path, e))?;
        let mut hash = Sha256::new();
        hash.update(config_text.as_bytes());
        hash.update(&weights);
        let digest = hash.finalize();
        let fingerprint = digest.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>();
        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| Error::model(&weights_path, format!("not a safetensors file: {e}")))?;
        let model = BertModel::load(vb, &config)
            .map_err(|e| Error::model(&weights_path, format!("weights do not fit config.json: {e}")))?;
        Ok(Embedder {
            model,
            tokenizer,
            device,
            dims: config.hidden_size,
            cls,
            sep,
            fingerprint,
            dir: dir.to_path_buf(),
        })
    }

    /// Dimensions of an embedding (384 for all-MiniLM-L6-v2).
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// The model directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A short hash of the configuration and weights: vectors computed by
    /// another model are never mixed with this one's.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// A display name: the directory's name and the fingerprint.
    pub fn name(&self) -> String {
        let base = self.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        format!("{base}@{}", self.fingerprint)
    }

    /// Embeds each text whole (truncated to [`CHUNK_TOKENS`]): for queries and
    /// short sentences. Returns one unit vector per text.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut inputs = Vec::with_capacity(texts.len());
        for text in texts {
            let ids = self.token_ids(text)?;
            let end = ids.len().min(CHUNK_TOKENS - 2);
            inputs.push(self.framed(&ids[..end]));
        }
        self.run(inputs)
    }

    /// Cuts `text` into overlapping windows of at most [`CHUNK_TOKENS`] tokens
    /// and embeds each: one `(span, vector)` per chunk, in text order. Empty
    /// text gives no chunks.
    pub fn embed_chunks(&self, text: &str) -> Result<Chunks> {
        let mut all = self.embed_documents(&[text])?;
        Ok(all.pop().unwrap_or_default())
    }

    /// [`Embedder::embed_chunks`] for several texts at once, batching the chunks
    /// of all of them (faster than one text at a time).
    pub fn embed_documents(&self, texts: &[&str]) -> Result<Vec<Chunks>> {
        let mut inputs = Vec::new();
        let mut owners = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            for (span, ids) in self.chunks(text)? {
                inputs.push(self.framed(&ids));
                owners.push((i, span));
            }
        }
        let vectors = self.run(inputs)?;
        let mut out: Vec<Chunks> = vec![Vec::new(); texts.len()];
        for ((i, span), v) in owners.into_iter().zip(vectors) {
            out[i].push((span, v));
        }
        Ok(out)
    }

    /// The token windows of a text: `(byte span, token ids without specials)`.
    pub fn chunks(&self, text: &str) -> Result<Vec<(Span, Vec<u32>)>> {
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        let encoding = self.tokenizer.encode(text, false).map_err(|e| Error::Tokenizer(e.to_string()))?;
        let ids = encoding.get_ids();
        let offsets = encoding.get_offsets();
        Ok(windows(ids.len(), CHUNK_TOKENS - 2, CHUNK_OVERLAP)
            .into_iter()
            .map(|(a, b)| {
                let span = Span { start: offsets[a].0, end: offsets[b - 1].1.max(offsets[a].0) };
                (span, ids[a..b].to_vec())
            })
            .collect())
    }

    fn token_ids(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self.tokenizer.encode(text, false).map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    fn framed(&self, ids: &[u32]) -> Vec<u32> {
        let mut v = Vec::with_capacity(ids.len() + 2);
        v.push(self.cls);
        v.extend_from_slice(ids);
        v.push(self.sep);
        v
    }

    /// Runs the model over framed token sequences, batched by similar length;
    /// returns the unit vectors in input order.
    fn run(&self, inputs: Vec<Vec<u32>>) -> Result<Vec<Vec<f32>>> {
        let mut order: Vec<usize> = (0..inputs.len()).collect();
        order.sort_by_key(|&i| inputs[i].len());
        let mut out = vec![Vec::new(); inputs.len()];
        for batch in order.chunks(BATCH) {
            let len = batch.iter().map(|&i| inputs[i].len()).max().unwrap_or(0);
            let mut ids = Vec::with_capacity(batch.len() * len);
            let mut mask = Vec::with_capacity(batch.len() * len);
            for &i in batch {
                let seq = &inputs[i];
                ids.extend_from_slice(seq);
                ids.extend(std::iter::repeat_n(0u32, len - seq.len()));
                mask.extend(std::iter::repeat_n(1u32, seq.len()));
                mask.extend(std::iter::repeat_n(0u32, len - seq.len()));
            }
            let shape = (batch.len(), len);
            let ids = Tensor::from_vec(ids, shape, &self.device)?;
            let mask = Tensor::from_vec(mask, shape, &self.device)?;
            let types = ids.zeros_like()?;
            let hidden = self.model.forward(&ids, &types, Some(&mask))?;
            // Mean over the real tokens (sentence-transformers' pooling), then unit length.
            let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = hidden.broadcast_mul(&m)?.sum(1)?;
            let counts = m.sum(1)?;
            let mean = summed.broadcast_div(&counts)?;
            let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f32::MAX)?;
            let unit = mean.broadcast_div(&norm)?;
            for (&i, v) in batch.iter().zip(unit.to_vec2::<f32>()?) {
                out[i] = v;
            }
        }
        Ok(out)
    }
}

/// Token windows `[start, end)` of `len` tokens: `size` each, neighbours sharing
/// `overlap`; the last one ends at `len`.
fn windows(len: usize, size: usize, overlap: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    if len == 0 {
        return out;
    }
    let step = size.saturating_sub(overlap).max(1);
    let mut start = 0;
    loop {
        let end = (start + size).min(len);
        out.push((start, end));
        if end == len {
            return out;
        }
        start += step;
    }
}

/// Dot product of two equally long vectors (the cosine of unit vectors).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Four accumulators let the compiler vectorise without reassociation flags.
    let mut acc = [0f32; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc[0] + acc[1] + acc[2] + acc[3] + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_text_with_overlap() {
        assert!(windows(0, 126, 16).is_empty());
        assert_eq!(windows(10, 126, 16), vec![(0, 10)]);
        assert_eq!(windows(126, 126, 16), vec![(0, 126)]);
        assert_eq!(windows(127, 126, 16), vec![(0, 126), (110, 127)]);
        let w = windows(1000, 126, 16);
        assert_eq!(w.first(), Some(&(0, 126)));
        assert_eq!(w.last().map(|x| x.1), Some(1000));
        for pair in w.windows(2) {
            assert_eq!(pair[0].1 - pair[1].0, 16, "neighbours share the overlap");
        }
    }

    #[test]
    fn dot_matches_the_plain_sum() {
        let a: Vec<f32> = (0..11).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..11).map(|i| 1.0 - i as f32 * 0.1).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-4);
    }
}
