"""The command line of `python -m scripts.pretrain_text`: build the chosen sources,
then split every built source into train.txt and heldout.txt.
"""

import argparse
import tarfile
import time
import zipfile
from pathlib import Path
from typing import List, Optional

from scripts.console import DataError, log, warn
from scripts.files import atomic_write_lines
from scripts.pretrain_text.sources import SOURCES
from scripts.pretrain_text.split import (
    read_source,
    split_corpus,
    split_is_up_to_date,
    split_manifest,
    split_stats,
    write_splits,
    write_stats,
)


def build_source(name: str, dl: Path, src_dir: Path, conll_dir: Path, force: bool) -> bool:
    """Write sources/<name>.txt and .docs unless they exist. RETURNS (bool): available."""
    txt, docs_path = src_dir / f"{name}.txt", src_dir / f"{name}.docs"
    if txt.exists() and docs_path.exists() and not force:
        log(f"[{name}] {txt} exists (use --force to rebuild)")
        return True
    log(f"[{name}] building")
    t0 = time.time()
    fn = SOURCES[name]
    try:
        docs = list(fn(dl, conll_dir) if name == "conll" else fn(dl))
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as e:
        raise DataError(
            f"reading the {name} source from {dl} failed ({type(e).__name__}: {e}); "
            f"delete the damaged download there and rerun"
        ) from e
    docs = [d for d in docs if d]
    if not docs:
        warn(f"[{name}] no text (source skipped)")
        return False
    atomic_write_lines(docs_path, (str(len(d)) for d in docs))
    n = atomic_write_lines(txt, (p for d in docs for p in d))
    toks = sum(len(p.split()) for d in docs for p in d)
    log(f"[{name}] {len(docs):,} documents, {n:,} lines, {toks:,} tokens ({time.time() - t0:.0f}s)")
    return True


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    """Read the command line; `args.names` are the sources to build."""
    parser = argparse.ArgumentParser(
        description="Fetch, clean and split raw English text for biLM pretraining.",
        epilog=f"sources: {', '.join(SOURCES)}",
    )
    parser.add_argument(
        "--download-dir", type=Path, default=Path("assets/dl"), help="package downloads"
    )
    parser.add_argument(
        "--out-dir", type=Path, default=Path("corpus/pretrain"), help="sources/, splits"
    )
    parser.add_argument(
        "--conll-dir",
        type=Path,
        default=Path("corpus/conll"),
        help="where scripts.conll2003 writes train.text.txt (run if missing)",
    )
    parser.add_argument(
        "--sources",
        default=",".join(SOURCES),
        help="comma-separated sources to build; the split takes every built source",
    )
    parser.add_argument(
        "--heldout-frac", type=float, default=0.01, help="held-out share of each source's tokens"
    )
    parser.add_argument("--min-heldout-tokens", type=int, default=50_000)
    parser.add_argument(
        "--block-tokens", type=int, default=2000, help="documents are cut into blocks this long"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--force", action="store_true", help="rebuild the selected sources and the split"
    )
    parser.add_argument(
        "--strict", action="store_true", help="fail instead of skipping a broken source"
    )
    args = parser.parse_args(argv)
    args.names = [s.strip() for s in args.sources.split(",") if s.strip()]
    unknown = [n for n in args.names if n not in SOURCES]
    if unknown:
        parser.error(f"unknown sources {unknown}; known: {list(SOURCES)}")
    return args


def build_sources(args: argparse.Namespace, src_dir: Path) -> List[str]:
    """Build the selected sources. RETURNS (List[str]): every source whose files exist."""
    for name in args.names:
        try:
            build_source(name, args.download_dir, src_dir, args.conll_dir, args.force)
        except DataError as e:
            if args.strict:
                raise
            warn(f"[{name}] skipped: {e}")
    # the split always takes every source whose files exist, not only those built now
    available = [
        n for n in SOURCES if (src_dir / f"{n}.txt").exists() and (src_dir / f"{n}.docs").exists()
    ]
    missing = [n for n in SOURCES if n not in available]
    if missing:
        warn(f"split without the sources {missing} (not built)")
    if not available:
        raise DataError("no source could be built")
    return available


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    out: Path = args.out_dir
    src_dir = out / "sources"
    available = build_sources(args, src_dir)
    manifest = split_manifest(args, src_dir, available)
    if not args.force and split_is_up_to_date(out, manifest):
        log(f"split: {out}/train.txt and heldout.txt are up to date")
        return 0
    log(f"split: {', '.join(available)}")
    sources = {n: read_source(src_dir, n) for n in available}
    train, heldout, dupes = split_corpus(
        sources, args.heldout_frac, args.min_heldout_tokens, args.block_tokens, args.seed
    )
    write_splits(out, train, heldout)
    stats = split_stats(sources, train, heldout, dupes, manifest)
    write_stats(out, stats)
    log(
        f"split: train {stats['train']['lines']:,} lines / {stats['train']['tokens']:,} tokens, "
        f"heldout {stats['heldout']['lines']:,} lines / {stats['heldout']['tokens']:,} tokens; "
        f"wrote {out / 'READY'}"
    )
    return 0
