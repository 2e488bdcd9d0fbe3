#!/usr/bin/env python3
"""Independent reference for crates/retrieval's embedding test.

Computes all-MiniLM-L6-v2 sentence embeddings (BERT forward pass, mean pooling,
L2 normalisation) with numpy alone from the model directory's safetensors
weights and tokenizer.json, and prints the cosine similarity of the sentence
pairs the Rust test checks. Needs: pip install numpy safetensors tokenizers.
Usage: minilm.py MODEL_DIR
"""
import json
import math
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

PAIRS = [
    ("The engine lost power during the takeoff climb.",
     "Shortly after departure the motor quit."),
    ("The engine lost power during the takeoff climb.",
     "The flight instructor reviewed the logbook endorsements."),
]


def layer_norm(x, g, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def embed(model_dir, text):
    cfg = json.load(open(f"{model_dir}/config.json"))
    w = load_file(f"{model_dir}/model.safetensors")
    w = {k[5:] if k.startswith("bert.") else k: v.astype(np.float64) for k, v in w.items()}
    tok = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    tok.no_truncation()
    tok.no_padding()
    ids = tok.encode(text).ids  # [CLS] ... [SEP]
    n = len(ids)
    eps = cfg["layer_norm_eps"]
    h = (w["embeddings.word_embeddings.weight"][ids]
         + w["embeddings.position_embeddings.weight"][:n]
         + w["embeddings.token_type_embeddings.weight"][0])
    h = layer_norm(h, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    heads = cfg["num_attention_heads"]
    d = cfg["hidden_size"] // heads
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        lin = lambda x, name: x @ w[p + name + ".weight"].T + w[p + name + ".bias"]
        q = lin(h, "attention.self.query").reshape(n, heads, d).transpose(1, 0, 2)
        k = lin(h, "attention.self.key").reshape(n, heads, d).transpose(1, 0, 2)
        v = lin(h, "attention.self.value").reshape(n, heads, d).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        a = (s @ v).transpose(1, 0, 2).reshape(n, heads * d)
        h = layer_norm(lin(a, "attention.output.dense") + h,
                       w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
        f = lin(gelu(lin(h, "intermediate.dense")), "output.dense")
        h = layer_norm(f + h, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
    m = h.mean(0)
    return m / np.linalg.norm(m)


if __name__ == "__main__":
    model_dir = sys.argv[1]
    for a, b in PAIRS:
        ea, eb = embed(model_dir, a), embed(model_dir, b)
        print(f"{float(ea @ eb):.6f}\t{a}\t{b}")
    e = embed(model_dir, PAIRS[0][0])
    print("first 4 dims of sentence 1:", " ".join(f"{x:.6f}" for x in e[:4]))
