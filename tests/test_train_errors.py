"""`spacy train` with ELMo settings that cannot work stops with one line naming the
setting to change, as it does for its own config errors: no traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import spacy

from spacy_elmo import save_weights_files

from .util import ner_docs, write_corpus

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus")
    return write_corpus(ner_docs(spacy.blank("en"), 8), path / "train.spacy")


@pytest.mark.parametrize(
    "weights,width,expected",
    [
        ("missing", "16", "--paths.elmo_weights"),
        ("tiny", "32", "--variables.elmo_width 16"),
    ],
)
def test_train_reports_elmo_settings_in_one_line(
    tmp_path, tiny_bilm, corpus, weights, width, expected
):
    save_weights_files(tiny_bilm, tmp_path / "tiny")
    cmd = [sys.executable, "-m", "spacy", "train", str(CONFIGS / "ner.cfg")]
    cmd += ["--paths.train", corpus, "--paths.dev", corpus]
    cmd += ["--paths.elmo_weights", str(tmp_path / weights), f"--variables.elmo_width={width}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    assert expected in output
