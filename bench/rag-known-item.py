#!/usr/bin/env python3
"""Writes a known-item retrieval set for `ntsb rag evaluate` from the corpus's narratives.

Each query is WORDS consecutive words (from a seeded random start) of one event's probable
cause (--field probable_cause, the issue's "10 words of a probable cause") or narrative
(--field narrative, "15 words of a narrative"); its one relevant event is that event.
Events are drawn (seeded, reproducible) from those whose ev_id dates them in --years.

Usage: rag-known-item.py --field probable_cause --words 10 --years 2010-2010 --n 200 \
         [--seed 21] [--data ../shared/data/ntsb/narratives] > set.jsonl
"""
import argparse
import glob
import json
import random
import re
import sys


def embedded_ev_ids(path):
    """The ev_ids with vectors committed in a vectors.log (crates/retrieval/src/vectors.rs)."""
    import struct
    data = open(path, "rb").read()
    assert data[:8] == b"NTSBVEC1", "not a vector file"
    (hlen,) = struct.unpack_from("<I", data, 8)
    dims = json.loads(data[12:12 + hlen])["dims"]
    pos, live, pending = 12 + hlen, {}, []
    while pos < len(data):
        tag = data[pos]
        pos += 1
        if tag == 1:
            event_id, _year, evlen = struct.unpack_from("<qiH", data, pos)
            pos += 14
            ev_id = data[pos:pos + evlen].decode()
            pos += evlen
            (n,) = struct.unpack_from("<I", data, pos)
            pos += 4 + 9 * n + 4 * dims * n
            pending.append((event_id, ev_id))
        elif tag == 2:
            (event_id,) = struct.unpack_from("<q", data, pos)
            pos += 8
            pending.append((event_id, None))
        elif tag == 3:
            pos += 12
            for event_id, ev_id in pending:
                if ev_id is None:
                    live.pop(event_id, None)
                else:
                    live[event_id] = ev_id
            pending = []
        else:
            break
    return set(live.values())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--field", choices=["probable_cause", "narrative"], required=True)
    ap.add_argument("--words", type=int, required=True)
    ap.add_argument("--years", required=True, help="FROM-TO")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--data", default="../shared/data/ntsb/narratives")
    ap.add_argument("--vectors", help="only events with vectors in this vectors.log (a partial `ntsb index embed`)")
    a = ap.parse_args()
    only = embedded_ev_ids(a.vectors) if a.vectors else None
    y0, y1 = (int(x) for x in a.years.split("-"))
    texts = {}
    for path in sorted(glob.glob(f"{a.data}/*.jsonl")):
        with open(path, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                ev_id = row.get("ev_id") or ""
                year = int(ev_id[:4]) if ev_id[:4].isdigit() else None
                text = (row.get(a.field) or "").strip()
                if year is None or not (y0 <= year <= y1) or (only is not None and ev_id not in only):
                    continue
                words = re.findall(r"\S+", text)
                if len(words) >= a.words:
                    texts[ev_id] = words  # the last file's text wins, as in a load
    ids = sorted(texts)
    rng = random.Random(a.seed)
    chosen = rng.sample(ids, min(a.n, len(ids)))
    for i, ev_id in enumerate(chosen):
        words = texts[ev_id]
        start = rng.randrange(0, len(words) - a.words + 1)
        query = " ".join(words[start:start + a.words])
        print(json.dumps({"id": f"known-{a.field}-{i + 1}", "query": query, "relevant_ev_ids": [ev_id]}))
    print(f"{len(chosen)} queries from {len(ids)} events of {y0}-{y1}", file=sys.stderr)


if __name__ == "__main__":
    main()
