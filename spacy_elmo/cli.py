"""Command-line interface: `python -m spacy_elmo COMMAND`."""

import tempfile
from pathlib import Path
from typing import List, Optional

import numpy as np
import torch
import typer

from .embedder import ElmoEmbedder
from .nn.bilm import ElmoBiLM
from .options import ElmoOptions, make_options
from .weights import save_weights_files

app = typer.Typer(help="ELMo for spaCy: exact, fast biLM tools.", no_args_is_help=True)

DEMO_SENTENCES = [
    "The bank raised its interest rates again .",
    "She sat on the river bank and watched the boats .",
    "Deposits at the bank grew by ten percent .",
    "Fish gathered near the muddy bank of the stream .",
]


@app.callback()
def main() -> None:
    """ELMo for spaCy: exact, fast biLM tools."""


@app.command()
def demo(
    weights: Optional[str] = typer.Option(
        None, "--weights", "-w", help="Weights reference; default: a tiny random model"
    ),
    out: Optional[Path] = typer.Option(
        None, "--out", help="Where to write the tiny model (default: a temporary directory)"
    ),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads"),
) -> None:
    """Embed a few sentences and compare the contextual vectors of 'bank'.

    Without --weights it builds a tiny random-weight biLM, writes it in the original
    format (options.json + weights.hdf5) and loads it back through the resolver.
    """
    with tempfile.TemporaryDirectory() as tmp:
        if weights is None:
            torch.manual_seed(0)
            model = ElmoBiLM(
                ElmoOptions.from_dict(make_options(dim=256, projection_dim=64, n_highway=1))
            )
            directory = out if out is not None else Path(tmp) / "tiny-elmo"
            save_weights_files(model, directory)
            typer.echo(f"Wrote a random-weight biLM (untrained) to {directory}")
            weights = str(directory)
        embedder = ElmoEmbedder(weights, n_threads=threads)
        sentences = [s.split() for s in DEMO_SENTENCES]
        layers = list(embedder.embed_sentences(sentences))
    typer.echo(
        f"biLM: {embedder.bilm.n_output_layers} layers of {embedder.output_dim} dims, "
        f"{sum(p.numel() for p in embedder.bilm.parameters()):,} parameters"
    )
    banks: List[np.ndarray] = []
    for tokens, vectors in zip(sentences, layers):
        typer.echo(f"  {' '.join(tokens)!r}: layers {vectors.shape}")
        banks.append(vectors.mean(axis=0)[tokens.index("bank")])
    unit = np.stack([b / np.linalg.norm(b) for b in banks])
    typer.echo("Cosine similarity of 'bank' across the sentences (layer average):")
    for i, row in enumerate(unit @ unit.T):
        typer.echo("  " + " ".join(f"{v:5.2f}" for v in row) + f"   sentence {i}")


if __name__ == "__main__":
    app()
