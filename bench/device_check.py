"""Check the biLM and the `elmo` component on an accelerator (or the CPU).

    python bench/device_check.py --device cuda   # on a GPU machine
    python bench/device_check.py --device cpu    # the same checks here

Prints: fixture parity on the device (stateful, atol 1e-6), the component under
thinc's require_gpu against the CPU result, mixed precision's deviation, `spacy train`
of configs/ner.cfg on a tiny corpus (`--gpu-id 0` on CUDA; frozen, and fine-tuned in
mixed precision with gradient scaling), and throughput of random-weight published
sizes. Reads the parity fixtures in tests/fixtures/elmo.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))

from spacy_elmo import ElmoBiLM, ElmoOptions, load_weights_files, save_weights_files  # noqa: E402
from spacy_elmo.bilm.options import PUBLISHED_OPTIONS  # noqa: E402
from spacy_elmo.pipeline.bilm_shim import get_bilm  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "elmo"


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
            bilm = get_bilm(nlp.get_pipe("elmo").model)
            got = [d._.elmo.layers for d in nlp.pipe(texts)]
            diff = max(float(np.abs(a - b).max()) for a, b in zip(got, expected))
            print(
                f"component on {next(bilm.parameters()).device}, mixed_precision={mixed}: "
                f"max |device - cpu| = {diff:.2e}"
            )
            assert mixed or diff < 1e-4


def training(device: str) -> None:
    """`python -m spacy train configs/ner.cfg` for 20 steps on the device: frozen, then
    fine-tuned with mixed precision (gradient scaling on CUDA)."""
    import spacy

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    from tests.util import ner_docs, tiny_options, write_corpus

    with tempfile.TemporaryDirectory() as tmp:
        nlp = spacy.blank("en")
        train = write_corpus(ner_docs(nlp, 40, seed=0), Path(tmp) / "train.spacy")
        dev = write_corpus(ner_docs(nlp, 10, seed=1), Path(tmp) / "dev.spacy")
        save_weights_files(ElmoBiLM(tiny_options()), Path(tmp) / "bilm")
        gpu = ["--gpu-id", device.split(":")[1] if ":" in device else "0"]
        for tune in (False, True):
            cmd = [sys.executable, "-m", "spacy", "train", str(root / "configs" / "ner.cfg")]
            cmd += ["--paths.train", train, "--paths.dev", dev]
            cmd += ["--paths.elmo_weights", str(Path(tmp) / "bilm"), "--variables.elmo_width=16"]
            cmd += ["--training.max_steps=20", "--training.eval_frequency=10"]
            cmd += gpu if device.startswith("cuda") else []
            if tune:
                cmd += ["--components.ner.model.tok2vec.elmo.grad_factor=1.0"]
                cmd += ["--components.elmo.model.cache_mb=0"]
                cmd += ["--components.elmo.model.mixed_precision=true"]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            table = [line for line in proc.stdout.splitlines() if line[:5].strip().isdigit()]
            print(f"spacy train ner on {device}, fine-tuned={tune}: rc {proc.returncode}")
            print("\n".join(table[-2:]) if proc.returncode == 0 else proc.stderr[-3000:])
            assert proc.returncode == 0


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
    training(args.device)
    throughput(args.device)


if __name__ == "__main__":
    main()
