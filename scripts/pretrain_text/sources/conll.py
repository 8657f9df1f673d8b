"""The `conll` source: the CoNLL-2003 training sentences, labels dropped, as
`python -m scripts.conll2003` writes them (run first if missing); train only.
"""

from pathlib import Path
from typing import Iterator

from scripts import conll2003
from scripts.console import log
from scripts.pretrain_text.clean import Doc


def read_docs(dl: Path, conll_dir: Path) -> Iterator[Doc]:
    """The CoNLL-2003 training sentences as documents of up to 50 sentences.

    dl (Path): where scripts.conll2003 downloads, if it has to run.
    conll_dir (Path): where it writes train.text.txt.
    RETURNS (Iterator[Doc]): each document's paragraphs.
    """
    path = conll_dir / "train.text.txt"
    if not path.exists():
        log(f"  {path} is missing: running scripts.conll2003")
        conll2003.main(["--download-dir", str(dl), "--out-dir", str(conll_dir)])
    # the sentences of one news document follow each other: keep them as one doc
    # of up to 50 sentences so the split never cuts a run in the middle
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    for i in range(0, len(lines), 50):
        yield lines[i : i + 50]
