"""The train / held-out split of the built sources: repeated paragraphs dropped,
documents cut into blocks, held-out blocks drawn per source (seeded), and the stats.
"""

import argparse
import json
import random
import re
import zlib
from pathlib import Path
from typing import Any, Dict, List, Tuple

from scripts.console import DataError
from scripts.files import atomic_write_lines, write_json
from scripts.pretrain_text.clean import Doc
from scripts.pretrain_text.sources import TRAIN_ONLY


def read_source(src_dir: Path, name: str) -> List[Doc]:
    lines = (src_dir / f"{name}.txt").read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    counts = [int(x) for x in (src_dir / f"{name}.docs").read_text().split()]
    if sum(counts) != len(lines):
        raise DataError(f"{src_dir / name}.docs does not match {name}.txt: rebuild with --force")
    docs, pos = [], 0
    for c in counts:
        docs.append(lines[pos : pos + c])
        pos += c
    return docs


def blocks_of(doc: Doc, block_tokens: int) -> List[Doc]:
    """Cut a document into runs of consecutive paragraphs of about block_tokens."""
    blocks: List[Doc] = []
    cur: Doc = []
    n = 0
    for p in doc:
        k = len(p.split())
        if cur and n + k > block_tokens:
            blocks.append(cur)
            cur, n = [], 0
        cur.append(p)
        n += k
    if cur:
        blocks.append(cur)
    return blocks


def dedupe_key(p: str) -> str:
    return re.sub(r"\W+", " ", p.lower()).strip()


def split_corpus(
    sources: Dict[str, List[Doc]],
    heldout_frac: float,
    min_heldout_tokens: int,
    block_tokens: int,
    seed: int,
) -> Tuple[List[Tuple[str, Doc]], List[Tuple[str, Doc]], Dict[str, int]]:
    """Deduplicate paragraphs across sources, cut documents into blocks and draw
    held-out blocks per source (seeded, by tokens). RETURNS train blocks, heldout
    blocks (both as (source, block)) and duplicates dropped per source."""
    seen = set()
    dupes: Dict[str, int] = {}
    blocks: Dict[str, List[Doc]] = {}
    for name, docs in sources.items():
        dupes[name] = 0
        bl: List[Doc] = []
        for doc in docs:
            kept = []
            for p in doc:
                key = dedupe_key(p)
                if len(key.split()) >= 4:
                    h = zlib.crc32(key.encode()) ^ (len(key) << 32)
                    if h in seen:
                        dupes[name] += 1
                        continue
                    seen.add(h)
                kept.append(p)
            bl.extend(blocks_of(kept, block_tokens) if kept else [])
        blocks[name] = bl
    tokens = {n: sum(len(p.split()) for b in bl for p in b) for n, bl in blocks.items()}
    eligible = sum(t for n, t in tokens.items() if n not in TRAIN_ONLY)
    frac = heldout_frac
    if eligible and frac * eligible < min_heldout_tokens:
        frac = min(0.5, min_heldout_tokens / eligible)
    train: List[Tuple[str, Doc]] = []
    heldout: List[Tuple[str, Doc]] = []
    for name, bl in blocks.items():
        if name in TRAIN_ONLY:
            train.extend((name, b) for b in bl)
            continue
        rng = random.Random(f"{seed}:{name}")
        order = list(range(len(bl)))
        rng.shuffle(order)
        target = frac * tokens[name]
        chosen = set()
        got = 0
        for j in order:
            if got >= target:
                break
            chosen.add(j)
            got += sum(len(p.split()) for p in bl[j])
        heldout.extend((name, bl[j]) for j in sorted(chosen))
        train.extend((name, bl[j]) for j in range(len(bl)) if j not in chosen)
    random.Random(f"{seed}:train").shuffle(train)
    return train, heldout, dupes


def count(blocks: List[Tuple[str, Doc]]) -> Dict[str, Dict[str, int]]:
    out: Dict[str, Dict[str, int]] = {}
    for name, b in blocks:
        d = out.setdefault(name, {"lines": 0, "tokens": 0})
        d["lines"] += len(b)
        d["tokens"] += sum(len(p.split()) for p in b)
    return out


def split_manifest(args: argparse.Namespace, src_dir: Path, available: List[str]) -> Dict:
    """The split's inputs, recorded in stats.json: the same manifest, the same split."""
    return {
        "sources": available,
        "seed": args.seed,
        "heldout_frac": args.heldout_frac,
        "min_heldout_tokens": args.min_heldout_tokens,
        "block_tokens": args.block_tokens,
        "source_sizes": {n: (src_dir / f"{n}.txt").stat().st_size for n in available},
    }


def split_is_up_to_date(out: Path, manifest: Dict) -> bool:
    """Whether a finished split (READY) was made from the same manifest."""
    stats_path = out / "stats.json"
    if not ((out / "READY").exists() and stats_path.exists()):
        return False
    return json.loads(stats_path.read_text()).get("manifest") == manifest


def write_splits(out: Path, train: List[Tuple[str, Doc]], heldout: List[Tuple[str, Doc]]) -> None:
    """Write the blocks' paragraphs to train.txt and heldout.txt, one a line."""
    atomic_write_lines(out / "train.txt", (p for _, b in train for p in b))
    atomic_write_lines(out / "heldout.txt", (p for _, b in heldout for p in b))


def split_stats(
    sources: Dict[str, List[Doc]],
    train: List[Tuple[str, Doc]],
    heldout: List[Tuple[str, Doc]],
    dupes: Dict[str, int],
    manifest: Dict,
) -> Dict[str, Any]:
    """Documents, lines and tokens per source and split, heldout.txt's line range per source."""
    per_train, per_held = count(train), count(heldout)
    stats: Dict[str, Any] = {"sources": {}, "manifest": manifest}
    for n, docs in sources.items():
        stats["sources"][n] = {
            "documents": len(docs),
            "lines": sum(len(d) for d in docs),
            "tokens": sum(len(p.split()) for d in docs for p in d),
            "duplicates_dropped": dupes[n],
            "train": per_train.get(n, {"lines": 0, "tokens": 0}),
            "heldout": per_held.get(n, {"lines": 0, "tokens": 0}),
        }
    # heldout.txt is in source order: its line ranges per source
    ranges, pos = {}, 0
    for n in sources:
        k = per_held.get(n, {"lines": 0})["lines"]
        if k:
            ranges[n] = [pos, pos + k]
        pos += k
    stats["heldout_line_ranges"] = ranges
    for split, per_source in (("train", per_train), ("heldout", per_held)):
        stats[split] = {
            key: sum(v[key] for v in per_source.values()) for key in ("lines", "tokens")
        }
    return stats


def write_stats(out: Path, stats: Dict[str, Any]) -> None:
    """Write stats.json, then READY: the split is complete."""
    write_json(out / "stats.json", stats)
    (out / "READY").touch()
