"""The `pretrain` and `perplexity` commands, run as a user runs them: interrupted and
resumed, adapted from another model, data-parallel under torchrun, and given bad
input."""

import json
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
import torch

from spacy_elmo.bilm.model import ElmoBiLM
from spacy_elmo.io.weights import save_weights_files
from spacy_elmo.pretrain.checkpoint import load_checkpoint

from .pretrain_util import FAST_SETTINGS, write_corpus
from .util import tiny_options

CLI = [sys.executable, "-m", "spacy_elmo"]


def run(*args, check=True, **kwargs):
    result = subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, timeout=300, **kwargs
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def pretrain_args(out, corpus, *extra):
    return [
        "pretrain", out,
        "--train", corpus / "train.txt",
        "--heldout", corpus / "heldout.txt",
        *FAST_SETTINGS, *extra,
    ]  # fmt: skip


def datasets(path):
    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, d: found.__setitem__(name, d[()]) if hasattr(d, "shape") else None
        )
    return found


def log_records(out):
    return [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("text"))


def test_killed_run_resumes_exactly(corpus, tmp_path):
    steps = ["--training.max_steps", "300"]
    run(*pretrain_args(tmp_path / "straight", corpus, *steps))
    out = tmp_path / "killed"
    kills = 0
    for delay in (1.5, 0.7, 1.1):
        proc = subprocess.Popen(
            [*CLI, *map(str, pretrain_args(out, corpus, *steps))],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 60
        while not (out / "checkpoint.hdf5").exists() and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(delay)  # somewhere mid-run, maybe mid-write
        proc.send_signal(signal.SIGKILL)
        kills += proc.wait() == -signal.SIGKILL
        # Whatever the moment, the checkpoint is whole.
        assert load_checkpoint(out / "checkpoint.hdf5").progress["step"] % 20 == 0
    assert kills >= 1, "the run finished before it could be interrupted"
    result = run(*pretrain_args(out, corpus, *steps))
    assert "Resuming from step" in result.stdout
    straight, resumed = (
        datasets(tmp_path / "straight" / "weights.hdf5"),
        datasets(out / "weights.hdf5"),
    )
    assert straight.keys() == resumed.keys()
    for name in straight:
        assert np.array_equal(straight[name], resumed[name]), name
    a = datasets(tmp_path / "straight" / "softmax.hdf5")
    b = datasets(out / "softmax.hdf5")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    losses = [(r["step"], r["loss"]) for r in log_records(tmp_path / "straight") if "loss" in r]
    assert losses == [(r["step"], r["loss"]) for r in log_records(out) if "loss" in r]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_log_shows_progress_and_perplexity_command_agrees(corpus, tmp_path):
    out = tmp_path / "out"
    result = run(*pretrain_args(out, corpus, "--training.max_steps", "40"))
    assert "tok/s" in result.stdout and "ETA" in result.stdout and "ppl" in result.stdout
    evals = [r for r in log_records(out) if "heldout" in r]
    assert [r["step"] for r in evals] == [20, 40]
    last = evals[-1]["heldout"]
    result = run(
        "perplexity", out, corpus / "heldout.txt", "--batch-size", "64", "--unroll-steps", "10"
    )
    values = {
        line.split()[0]: float(line.split(":")[1].split()[0])
        for line in result.stdout.splitlines()
        if "perplexity:" in line
    }
    assert values["average"] == pytest.approx(last["average"], rel=1e-3)
    assert values["forward"] == pytest.approx(last["forward"], rel=1e-3)
    assert values["unigram"] > 1.5 * values["average"]


def test_adapting_starts_from_the_trained_model(corpus, tmp_path):
    base = tmp_path / "base"
    run(*pretrain_args(base, corpus, "--training.max_steps", "120"))
    adapted = tmp_path / "adapted"
    result = run(
        *pretrain_args(adapted, corpus, "--training.max_steps", "10", "--paths.init_weights", base)
    )
    assert "Adapting the biLM of" in result.stdout
    assert "Continuing with the softmax" in result.stdout
    fresh = tmp_path / "fresh"
    run(*pretrain_args(fresh, corpus, "--training.max_steps", "10"))
    first = [r["loss"] for r in log_records(adapted) if "loss" in r][0]
    assert first < [r["loss"] for r in log_records(fresh) if "loss" in r][0] - 1.0


def test_adapting_published_weights_trains_a_new_softmax(corpus, tmp_path):
    torch.manual_seed(0)
    save_weights_files(ElmoBiLM(tiny_options(projection_dim=16)), tmp_path / "published")
    out = tmp_path / "out"
    result = run(
        *pretrain_args(
            out,
            corpus,
            "--training.max_steps",
            "20",
            "--paths.init_weights",
            tmp_path / "published",
        )
    )
    assert "No softmax to start from" in result.stdout
    # The options (sizes) are the initial model's, not the preset's.
    assert json.loads((out / "options.json").read_text())["lstm"]["dim"] == 32


def test_bad_input_gives_clear_errors(corpus, tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    result = run(*pretrain_args(foreign, corpus, "--training.max_steps", "5"), check=False)
    assert result.returncode == 1 and "already holds other files (notes.txt)" in result.stderr
    assert (foreign / "notes.txt").read_text() == "keep me"

    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    result = run("pretrain", tmp_path / "o1", "--train", empty, *FAST_SETTINGS, check=False)
    assert result.returncode == 1 and "No tokens in the input text" in result.stderr

    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"good line\n\xc3\x28 bad\n")
    result = run("pretrain", tmp_path / "o2", "--train", bad, *FAST_SETTINGS, check=False)
    assert result.returncode == 1 and "bad.txt, line 2: not valid UTF-8" in result.stderr

    result = run("pretrain", tmp_path / "o3", *FAST_SETTINGS, check=False)
    assert result.returncode == 1 and "No training text" in result.stderr

    result = run(*pretrain_args(tmp_path / "o4", corpus, "--training.max_step", "5"), check=False)
    assert result.returncode == 1 and "Unknown setting 'max_step'" in result.stderr


def test_resuming_with_other_text_is_refused(corpus, tmp_path):
    out = tmp_path / "out"
    run(*pretrain_args(out, corpus, "--training.max_steps", "20"))
    other = write_corpus(tmp_path / "other", n_train=30)
    result = run(*pretrain_args(out, other, "--training.max_steps", "40"), check=False)
    assert result.returncode == 1
    assert "does not match the one of the run being resumed" in result.stderr


def test_two_processes_match_one(corpus, tmp_path):
    settings = [
        "--training.max_steps", "40", "--training.dropout", "0", "--training.batch_size", "8",
    ]  # fmt: skip
    run(*pretrain_args(tmp_path / "single", corpus, *settings))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "spacy_elmo", *map(str, pretrain_args(tmp_path / "ddp", corpus, *settings)),
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 processes in sync at step 40" in result.stdout
    single = [r["loss"] for r in log_records(tmp_path / "single") if "loss" in r]
    ddp = [r["loss"] for r in log_records(tmp_path / "ddp") if "loss" in r]
    assert len(single) == len(ddp) == 4
    assert np.allclose(single, ddp, rtol=1e-3), (single, ddp)


def test_pretrain_config_writes_a_preset_that_pretrain_reads(tmp_path):
    path = tmp_path / "bilm.cfg"
    run("pretrain-config", path, "--preset", "small")
    text = path.read_text()
    assert "dim = 1024" in text and 'kind = "adaptive"' in text and "learn_rate = 0.2" in text
    result = run("pretrain-config", path, check=False)
    assert result.returncode == 1 and "exists; pass --force" in result.stderr
    from spacy_elmo.pretrain.config import load_config

    assert load_config(path, "tiny")["model"]["projection_dim"] == 128
