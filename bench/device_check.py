"""Check the biLM and the `elmo` component on an accelerator (or the CPU).

    python bench/device_check.py --device cuda   # on a GPU machine
    python bench/device_check.py --device cpu    # the same checks here

Prints: fixture parity on the device (stateful, atol 1e-6), the component under
thinc's require_gpu against the CPU result, mixed precision's deviation, and
throughput of random-weight published sizes. Needs ../shared/elmo-fixtures.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))

from spacy_elmo import ElmoBiLM, ElmoOptions, load_weights_files, save_weights_files  # noqa: E402
from spacy_elmo.options import PUBLISHED_OPTIONS  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "elmo-fixtures"


def parity(device: str) -> float:
    """Largest deviation from the original top-layer vectors, computed on device."""
    model = load_weights_files(FIXTURES / "options.json", FIXTURES / "lm_weights.hdf5")
    model.stateful = True
    model.to(device)
    sentences = json.loads((FIXTURES / "sentences.json").read_text())
    worst = 0.0
    with torch.inference_mode():
        for i in range(10):
            batch = [sentences[k][i].split() for k in range(3)]
            out = model.embed_tokens(batch).layers[-1].cpu().numpy()
            for k, tokens in enumerate(batch):
                with h5py.File(FIXTURES / f"lm_embeddings_{k}.hdf5", "r") as f:
                    expected = np.concatenate(f[str(i)][()], axis=-1)
                assert np.allclose(out[k, : len(tokens)], expected, atol=1e-6), (i, k)
                worst = max(worst, float(np.abs(out[k, : len(tokens)] - expected).max()))
    return worst


def component(device: str) -> None:
    """The pipeline on the device vs on the CPU, with and without mixed precision."""
    import spacy

    texts = ["The bank raised its rates .", "We sat on the river bank ."] * 8
    with tempfile.TemporaryDirectory() as tmp:
        save_weights_files(
            load_weights_files(FIXTURES / "options.json", FIXTURES / "lm_weights.hdf5"), tmp
        )
        cpu = spacy.blank("en")
        cpu.add_pipe("elmo", config={"weights": tmp, "layers": "all"})
        expected = [d._.elmo.layers for d in cpu.pipe(texts)]
        if device.startswith("cuda"):
            spacy.require_gpu(int(device.split(":")[1]) if ":" in device else 0)
        for mixed in (False, True):
            nlp = spacy.blank("en")
            config = {"weights": tmp, "layers": "all", "model": {"mixed_precision": mixed}}
            nlp.add_pipe("elmo", config=config)
            bilm = nlp.get_pipe("elmo").model.shims[0]._model
            got = [d._.elmo.layers for d in nlp.pipe(texts)]
            diff = max(float(np.abs(a - b).max()) for a, b in zip(got, expected))
            print(
                f"component on {next(bilm.parameters()).device}, mixed_precision={mixed}: "
                f"max |device - cpu| = {diff:.2e}"
            )
            assert mixed or diff < 1e-4


def throughput(device: str) -> None:
    """tokens/s of random-weight published sizes on the device."""
    from text import load_sentences

    sentences = sorted(load_sentences(3000), key=len)
    n_tokens = sum(len(s) for s in sentences)
    for size in ("small", "original"):
        torch.manual_seed(0)
        model = ElmoBiLM(ElmoOptions.from_dict(PUBLISHED_OPTIONS[size])).eval().to(device)
        for batch_size in (32, 128):
            with torch.inference_mode():
                model.embed_tokens(sentences[-batch_size:])
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                start = time.perf_counter()
                for i in range(0, len(sentences), batch_size):
                    model.embed_tokens(sentences[i : i + batch_size])
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
            rate = n_tokens / (time.perf_counter() - start)
            print(f"{size:<9} batch {batch_size:>4}: {rate:9.0f} tokens/s on {device}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, device {args.device}")
    print(f"fixture parity on {args.device}: max |ours - original| = {parity(args.device):.2e}")
    component(args.device)
    throughput(args.device)


if __name__ == "__main__":
    main()
