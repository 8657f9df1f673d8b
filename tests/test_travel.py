"""Pipelines travel: a pipeline saved with ELMo carries its biLM and loads, in a fresh
process, after the weights it was built from are gone, whether it was saved from a
weights path (before or after its first use), packaged with `spacy package` and
installed elsewhere, or trained by `spacy train` as model-best."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import spacy
import srsly

from spacy_elmo import ElmoEmbedder, save_weights_files

from .util import ner_docs, write_corpus

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
TEXTS = ["The bank raised rates.", "We sat on the river bank."]
# Runs in a fresh process: loads a pipeline by name or path, writes its ELMo layers
# and entities for TEXTS as JSON.
LOAD = """
import sys, json, spacy
nlp = spacy.load(sys.argv[1])
docs = list(nlp.pipe(json.loads(sys.argv[2])))
print(json.dumps({
    "layers": [d._.elmo.layers.tolist() for d in docs],
    "ents": [[(e.start, e.end, e.label_) for e in d.ents] for d in docs],
}))
"""


@pytest.fixture
def weights(tmp_path, tiny_bilm):
    save_weights_files(tiny_bilm, tmp_path / "bilm")
    return tmp_path / "bilm"


def load_elsewhere(name: str, cwd: Path, pythonpath: str = "") -> dict:
    """spacy.load(name) in a fresh process, run from `cwd`, on TEXTS."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    result = subprocess.run(
        [sys.executable, "-c", LOAD, name, srsly.json_dumps(TEXTS)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return srsly.json_loads(result.stdout.strip().splitlines()[-1])


def expected_layers(weights: Path) -> list:
    """The shipped average of the layers, from the weights directly."""
    embedder = ElmoEmbedder(str(weights), device="cpu")
    nlp = spacy.blank("en")
    return [embedder.embed_sentence([t.text for t in nlp(text)]).mean(axis=0) for text in TEXTS]


def assert_same_layers(got: list, expected: list) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(np.asarray(a)[0], b, atol=1e-6)


@pytest.mark.parametrize("use_first", [True, False], ids=["used", "saved-before-use"])
def test_pipeline_saved_from_a_path_loads_without_it(tmp_path, weights, use_first):
    expected = expected_layers(weights)
    nlp = spacy.blank("en")
    nlp.add_pipe("elmo", config={"weights": str(weights)})
    if use_first:
        nlp(TEXTS[0])
    nlp.to_disk(tmp_path / "pipeline")
    assert (tmp_path / "pipeline" / "elmo" / "weights.hdf5").is_file()
    shutil.rmtree(weights)
    got = load_elsewhere(str(tmp_path / "pipeline"), tmp_path)
    assert_same_layers(got["layers"], expected)


def test_packaged_pipeline_installs_and_loads_elsewhere(tmp_path, weights):
    """`spacy package`, then `pip install` of the sdist into a separate folder, with
    the weights and the saved pipeline gone."""
    expected = expected_layers(weights)
    nlp = spacy.blank("en")
    nlp.add_pipe("elmo", config={"weights": str(weights)})
    nlp.to_disk(tmp_path / "pipeline")
    (tmp_path / "out").mkdir()
    package = [sys.executable, "-m", "spacy", "package", str(tmp_path / "pipeline")]
    package += [str(tmp_path / "out"), "--name", "elmo_travel", "--version", "0.0.1"]
    result = subprocess.run(package, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    sdist = next((tmp_path / "out" / "en_elmo_travel-0.0.1" / "dist").glob("*.tar.gz"))
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation"]
    install += ["--no-index", "--quiet", "--target", str(tmp_path / "site"), str(sdist)]
    result = subprocess.run(install, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    shutil.rmtree(weights)
    shutil.rmtree(tmp_path / "pipeline")
    shutil.rmtree(tmp_path / "out")
    got = load_elsewhere("en_elmo_travel", tmp_path, pythonpath=str(tmp_path / "site"))
    assert_same_layers(got["layers"], expected)


@pytest.mark.slow
def test_model_best_trained_from_a_path_loads_without_it(tmp_path, weights):
    """`spacy train configs/ner.cfg --paths.elmo_weights PATH`: model-best, moved to
    another folder with PATH gone, predicts what it predicted where it was trained."""
    nlp = spacy.blank("en")
    train = write_corpus(ner_docs(nlp, 16, seed=0), tmp_path / "train.spacy")
    dev = write_corpus(ner_docs(nlp, 6, seed=1), tmp_path / "dev.spacy")
    cmd = [sys.executable, "-m", "spacy", "train", str(CONFIGS / "ner.cfg")]
    cmd += ["--output", str(tmp_path / "out"), "--paths.train", train, "--paths.dev", dev]
    cmd += ["--paths.elmo_weights", str(weights), "--variables.elmo_width=16"]
    cmd += ["--training.max_steps=6", "--training.eval_frequency=3", "--nlp.batch_size=8"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    before = load_elsewhere(str(tmp_path / "out" / "model-best"), tmp_path)
    shutil.move(str(tmp_path / "out" / "model-best"), str(tmp_path / "moved"))
    shutil.rmtree(weights)
    after = load_elsewhere(str(tmp_path / "moved"), tmp_path)
    assert after["ents"] == before["ents"]
    for a, b in zip(after["layers"], before["layers"]):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
