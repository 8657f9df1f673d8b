"""Real English sentences for benchmarks, made from CPython's own docstrings.

Every machine with Python 3 has them, so the benchmark text needs no download and
nothing is shipped. Sentences are split and tokenized with spaCy (blank English +
sentencizer), as the `elmo` component will see them.
"""

import ast
import re
import sysconfig
from pathlib import Path
from typing import Iterator, List

SKIP_DIRS = {"test", "tests", "idlelib", "lib2to3", "site-packages", "turtledemo", "__pycache__"}
PROSE = re.compile(r"^[A-Z][A-Za-z0-9 ,;:'()\-\.\"]+[.!?]$")


def docstring_paragraphs() -> Iterator[str]:
    """Prose paragraphs of the standard library's docstrings, in a fixed order."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.rglob("*.py")):
        if SKIP_DIRS & set(path.relative_to(stdlib).parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)):
                doc = ast.get_docstring(node)
                for para in (doc or "").split("\n\n"):
                    text = " ".join(line.strip() for line in para.splitlines())
                    if PROSE.match(text) and ">>>" not in para:
                        yield text


def load_sentences(n: int = 3000, min_len: int = 5, max_len: int = 60) -> List[List[str]]:
    """The first n distinct sentences of min_len..max_len tokens.

    RETURNS (List[List[str]]): Token strings per sentence.
    """
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    seen = set()
    sentences: List[List[str]] = []
    for doc in nlp.pipe(docstring_paragraphs(), batch_size=256):
        for sent in doc.sents:
            tokens = [t.text for t in sent if not t.is_space]
            key = " ".join(tokens)
            if min_len <= len(tokens) <= max_len and key not in seen:
                seen.add(key)
                sentences.append(tokens)
                if len(sentences) == n:
                    return sentences
    return sentences


if __name__ == "__main__":
    sents = load_sentences()
    lengths = [len(s) for s in sents]
    print(f"{len(sents)} sentences, {sum(lengths)} tokens, lengths {min(lengths)}-{max(lengths)}")
    for s in sents[:: len(sents) // 5]:
        print("  ", " ".join(s))
