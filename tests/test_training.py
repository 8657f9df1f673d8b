"""The real `python -m spacy train` CLI on the shipped configs, with a tiny random-weight
biLM: NER and textcat, listener and embedded, frozen and fine-tuned."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import spacy
import srsly
import torch
from thinc.api import Config

from spacy_elmo import load_bilm, save_weights_files
from spacy_elmo.pipeline.bilm_shim import get_bilm

from .util import ner_docs, textcat_docs, write_corpus

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TINY_WIDTH = 16  # tiny_options: 2 * projection_dim
TEXTS = ["Alice lives in Paris .", "the film was superb .", "In Oslo , Tom Hardy met the mayor ."]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus")
    nlp = spacy.blank("en")
    return {
        "ner": (
            write_corpus(ner_docs(nlp, 40, seed=0), path / "ner_train.spacy"),
            write_corpus(ner_docs(nlp, 12, seed=1), path / "ner_dev.spacy"),
        ),
        "textcat": (
            write_corpus(textcat_docs(nlp, 40, seed=0), path / "tc_train.spacy"),
            write_corpus(textcat_docs(nlp, 12, seed=1), path / "tc_dev.spacy"),
        ),
    }


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    from .util import tiny_options

    torch.manual_seed(0)
    from spacy_elmo import ElmoBiLM

    path = tmp_path_factory.mktemp("bilm") / "bilm"
    save_weights_files(ElmoBiLM(tiny_options()), path)
    return str(path)


def embedded_config(task: str, grad_factor: float, cache_mb: int) -> Config:
    """The shipped config with the biLM inside the task component (no elmo, no listener)."""
    config = Config().from_disk(CONFIGS / f"{task}.cfg", interpolate=False)
    config["nlp"]["pipeline"] = [task]
    del config["components"]["elmo"]
    del config["initialize"]["components"]["elmo"]
    listener = config["components"][task]["model"]["tok2vec"]["elmo"]
    config["components"][task]["model"]["tok2vec"]["elmo"] = {
        "@architectures": "spacy-elmo.ElmoTok2Vec.v1",
        "width": listener["width"],
        "weights": "${paths.elmo_weights}",
        "grad_factor": grad_factor,
        "l2_coef": listener["l2_coef"],
        "bilm": {
            "@architectures": "spacy-elmo.ElmoBiLM.v3",
            "cache_mb": cache_mb,
            "sentences": "punct",
        },
    }
    return config


def parse_losses(output: str, task: str) -> list:
    """The LOSS column of the task from spaCy's console table."""
    header = next(line for line in output.splitlines() if "LOSS" in line and "#" in line)
    columns = re.split(r"\s{2,}", header.strip())
    index = columns.index(f"LOSS {task.upper()}")
    rows = [line.split() for line in output.splitlines() if re.match(r"^\s*\d+\s+\d+\s", line)]
    elmo_index = columns.index("LOSS ELMO") if "LOSS ELMO" in columns else None
    task_losses = [float(row[index]) for row in rows]
    elmo_losses = [float(row[elmo_index]) for row in rows] if elmo_index is not None else []
    return task_losses, elmo_losses


def the_bilm(nlp, embedded: bool, task: str):
    if not embedded:
        return get_bilm(nlp.get_pipe("elmo").model)
    node = next(n for n in nlp.get_pipe(task).model.walk() if n.name == "elmo_bilm")
    return get_bilm(node)


def predictions(nlp, task: str):
    docs = list(nlp.pipe(TEXTS))
    if task == "ner":
        return [[(e.start, e.end, e.label_) for e in doc.ents] for doc in docs]
    return [doc.cats for doc in docs]


@pytest.mark.slow
@pytest.mark.parametrize("task", ["ner", "textcat"])
@pytest.mark.parametrize("mode", ["listener", "embedded"])
@pytest.mark.parametrize("fine_tune", [False, True], ids=["frozen", "fine-tuned"])
def test_spacy_train_cli(tmp_path, corpus, weights, task, mode, fine_tune):
    embedded = mode == "embedded"
    grad_factor = 1.0 if fine_tune else 0.0
    cache_mb = 0 if fine_tune else 64
    if embedded:
        config_path = tmp_path / "config.cfg"
        embedded_config(task, grad_factor, cache_mb).to_disk(config_path)
        overrides = []
    else:
        config_path = CONFIGS / f"{task}.cfg"
        overrides = [
            f"--components.{task}.model.tok2vec.elmo.grad_factor={grad_factor}",
            f"--components.elmo.model.cache_mb={cache_mb}",
        ]
    train, dev = corpus[task]
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "spacy", "train", str(config_path), "--output", str(out)]
    cmd += ["--paths.train", train, "--paths.dev", dev, "--paths.elmo_weights", weights]
    # The BiLSTM under NER needs more steps than textcat's ensemble on the tiny data.
    steps = 100 if task == "ner" else 40
    cmd += [f"--variables.elmo_width={TINY_WIDTH}", f"--training.max_steps={steps}"]
    cmd += [f"--training.eval_frequency={steps // 4}", "--nlp.batch_size=8", *overrides]
    # One torch thread: on a busy machine idle OpenMP threads spin and slow it down.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    task_losses, elmo_losses = parse_losses(result.stdout, task)
    assert len(task_losses) == 5
    assert task_losses[-1] < task_losses[1] and task_losses[-1] < max(task_losses) / 2
    if not embedded and not fine_tune:  # a frozen biLM receives no gradient at all
        assert sum(elmo_losses) == 0
    if not embedded and fine_tune and task == "ner":
        # elmo reports the squared gradient it received; textcat's mean over a text's
        # tokens makes it too small for the console's two decimals (that the gradient
        # arrives is checked on the biLM's parameters below).
        assert sum(elmo_losses) > 0

    # model-best loads without the weight files and predicts; it learned the data.
    best = spacy.load(out / "model-best")
    meta = srsly.read_json(out / "model-best" / "meta.json")
    score = meta["performance"]["ents_f" if task == "ner" else "cats_score"]
    assert score > 0.5, meta["performance"]
    before = predictions(best, task)
    assert any(before) if task == "ner" else all(set(c) == {"POS", "NEG"} for c in before)

    # The biLM is frozen unless fine-tuned.
    original = load_bilm(weights)
    bilm = the_bilm(best, embedded, task)
    changed = any(not torch.equal(a, b) for a, b in zip(original.parameters(), bilm.parameters()))
    assert changed == fine_tune

    # A to_disk / from_disk round trip predicts the same.
    best.to_disk(tmp_path / "copy")
    again = spacy.load(tmp_path / "copy")
    after = predictions(again, task)
    if task == "ner":
        assert after == before
    else:
        for a, b in zip(after, before):
            np.testing.assert_array_equal(list(a.values()), list(b.values()))


@pytest.mark.parametrize("name", ["ner", "textcat", "ner_baseline", "textcat_baseline"])
def test_configs_pass_debug_config(corpus, weights, name):
    """`python -m spacy debug config` (in process): every shipped config is valid and
    resolves, its components and architectures found through the entry points."""
    from spacy.cli.debug_config import debug_config

    train, dev = corpus["ner" if name.startswith("ner") else "textcat"]
    overrides = {"paths.train": train, "paths.dev": dev}
    if not name.endswith("baseline"):
        overrides["paths.elmo_weights"] = weights
    debug_config(CONFIGS / f"{name}.cfg", overrides=overrides)  # exits on an error
    config = Config().from_disk(CONFIGS / f"{name}.cfg")
    assert ("elmo" in config["nlp"]["pipeline"]) != name.endswith("baseline")


@pytest.mark.parametrize("task", ["ner", "textcat"])
def test_baseline_configs_train(tmp_path, corpus, task):
    """The baselines train as shipped (no vectors or ELMo needed)."""
    train, dev = corpus[task]
    cmd = [sys.executable, "-m", "spacy", "train", str(CONFIGS / f"{task}_baseline.cfg")]
    cmd += ["--output", str(tmp_path), "--paths.train", train, "--paths.dev", dev]
    cmd += ["--training.max_steps=10", "--training.eval_frequency=5"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    # NER: a tok2vec component that ner listens to; textcat: a bag of words alone.
    expected = ["tok2vec", "ner"] if task == "ner" else ["textcat"]
    assert spacy.load(tmp_path / "model-best").pipe_names == expected


@pytest.mark.parametrize("name", ["bow", "ensemble", "elmo"])
def test_chinese_sentiment_configs_train(tmp_path, monkeypatch, name):
    """The Chinese configs train as shipped; the ELMo one here on an ELMoForManyLangs
    model directory (a random one in their format), through `spacy train`."""
    from spacy.tokens import DocBin

    from .test_manylangs import write_reference_model

    nlp = spacy.blank("zh")
    texts = ["我们喜欢银行。", "银行不好。", "我们喜欢中文。", "中文不好，银行不好。"]
    paths = []
    for split, n in (("train", 24), ("dev", 8)):
        db = DocBin()
        for i in range(n):
            doc = nlp(texts[i % 4])
            doc.cats = {"POS": float(i % 2 == 0), "NEG": float(i % 2 == 1)}
            db.add(doc)
        db.to_disk(tmp_path / f"{split}.spacy")
        paths.append(str(tmp_path / f"{split}.spacy"))
    config = CONFIGS / f"zh_sentiment_{name}.cfg"
    cmd = [sys.executable, "-m", "spacy", "train", str(config), "--output", str(tmp_path / "out")]
    cmd += ["--paths.train", paths[0], "--paths.dev", paths[1]]
    cmd += ["--training.max_steps=6", "--training.eval_frequency=3"]
    if name == "elmo":
        model_dir = write_reference_model(tmp_path / "zh-elmo", monkeypatch)
        cmd += ["--paths.elmo_weights", str(model_dir), "--variables.elmo_width", "16"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    trained = spacy.load(tmp_path / "out" / "model-best")
    assert trained.lang == "zh" and ("elmo" in trained.pipe_names) == (name == "elmo")
    doc = trained("我们喜欢银行。")
    assert [t.text for t in doc][:2] == ["我", "们"]  # one token per character
    assert set(doc.cats) == {"POS", "NEG"}
    if name == "elmo":
        assert doc._.elmo.vectors.shape == (len(doc), 16)
