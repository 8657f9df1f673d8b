"""Small text corpora and settings for the pretraining tests."""

import random
from pathlib import Path
from typing import List

NOUNS = "cat dog bird horse farmer teacher river city garden window".split()
VERBS = "sees likes follows finds watches paints".split()
ADJECTIVES = "old young small big red quiet".split()

# Small enough to run in a second or two per command, large enough to learn from.
FAST_SETTINGS = [
    "--preset", "tiny",
    "--training.batch_size", "8",
    "--training.unroll_steps", "10",
    "--training.log_every", "10",
    "--training.eval_every", "20",
    "--training.checkpoint_every", "20",
    "--vocab.min_count", "1",
    "--system.threads", "1",
]  # fmt: skip


def grammar_sentences(n: int, seed: int) -> List[str]:
    """Sentences of a small grammar: learnable structure, with some variety."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        subject = f"the {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
        obj = f"a {rng.choice(NOUNS)}"
        line = f"{subject.capitalize()} {rng.choice(VERBS)} {obj} near the {rng.choice(NOUNS)}."
        if rng.random() < 0.3:
            line += f" Then it {rng.choice(VERBS)} the {rng.choice(NOUNS)}."
        lines.append(line)
    return lines


def write_corpus(directory: Path, n_train: int = 600, n_heldout: int = 60) -> Path:
    """Write train.txt and heldout.txt into `directory`.

    RETURNS (Path): The directory.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "train.txt").write_text("\n".join(grammar_sentences(n_train, 0)) + "\n")
    (directory / "heldout.txt").write_text("\n".join(grammar_sentences(n_heldout, 1)) + "\n")
    return directory
