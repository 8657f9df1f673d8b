import errno
import re
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from spacy_elmo.cli import app


def test_demo_separates_senses_with_the_shipped_bilm():
    """The demo's rule: for every ambiguous word, its vectors are closer within a
    sense than across senses (run through the module entry point)."""
    result = subprocess.run(
        [sys.executable, "-m", "spacy_elmo", "demo", "--threads", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "biLM en-open-3m: 3 layers of 256 dims, 2,996,448 parameters; layer: 1" in result.stdout
    for word in ("bank", "bass", "bat", "plant"):
        assert re.search(rf"^{word} .* ok$", result.stdout, re.M), result.stdout
    assert "beats across-sense for 4 of 4 words" in result.stdout


def test_demo_scores_and_context_free_control():
    """Layer 0 is context-free: every occurrence of a word gets one vector, so within
    and across tie; the scores come from real cosines."""
    from spacy_elmo.demo import sense_scores
    from spacy_elmo.io.embedder import ElmoEmbedder

    embedder = ElmoEmbedder(device="cpu")
    for score in sense_scores(embedder, layer=0):
        assert score.within == pytest.approx(1.0, abs=1e-5)
        assert score.across == pytest.approx(1.0, abs=1e-5)
        assert not score.separates
    for score in sense_scores(embedder):  # layer 1, the demo's default
        assert -1.0 <= score.across < score.within < 1.0
    with pytest.raises(ValueError, match="--layer must be top, average or a layer index"):
        sense_scores(embedder, layer=7)


def test_demo_with_given_weights(fixtures_dir, tmp_path):
    shutil.copy(fixtures_dir / "options.json", tmp_path / "options.json")
    shutil.copy(fixtures_dir / "lm_weights.hdf5", tmp_path / "weights.hdf5")
    result = CliRunner().invoke(app, ["demo", "--weights", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "3 layers of 32 dims" in result.output
    result = CliRunner().invoke(app, ["demo", "--weights", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert "Error: ELMo weights not found" in result.output


def test_console_script_is_installed(tmp_path, tiny_bilm):
    from pathlib import Path

    from spacy_elmo import save_weights_files

    save_weights_files(tiny_bilm, tmp_path)
    script = Path(sys.executable).parent / "spacy-elmo"
    result = subprocess.run(
        [str(script), "info", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "output:     3 layers of 16" in result.stdout


def one_line_error(result) -> str:
    """The CLI's error line, after checking it is the only one and no traceback."""
    assert result.exit_code == 1, result.output
    assert (
        "Traceback" not in result.output
        and result.exception is None
        or isinstance(result.exception, SystemExit)
    )
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.output
    return errors[0]


def cli_commands(tmp, weights, out):
    """Every CLI command that writes, writing to `out`."""
    (tmp / "in.txt").write_text("The bank .\nHello\n", encoding="utf8")
    return {
        "embed": ["embed", str(tmp / "in.txt"), str(out), "-w", weights],
        "convert": ["convert", weights, str(out)],
        "convert-pipeline": ["convert", weights, str(out), "--to", "pipeline"],
        "info": ["info", weights, "--json", str(out)],
        "pretrain-config": ["pretrain-config", str(out), "--preset", "tiny"],
        "pretrain": ["pretrain", str(out), "--preset", "tiny", "--train", str(tmp / "in.txt")],
        "download": ["download", "small", "--cache", str(out), "--base-url", "http://127.0.0.1:9"],
    }


@pytest.mark.parametrize(
    "command",
    ["embed", "convert", "convert-pipeline", "info", "pretrain-config", "pretrain", "download"],
)
def test_unusable_output_location_is_one_line(tmp_path, tiny_bilm, command):
    """An output under a path that is a file (as under a missing or read-only
    directory) is one `Error:` line and exit code 1, never a traceback."""
    from spacy_elmo import save_weights_files

    save_weights_files(tiny_bilm, tmp_path / "bilm")
    (tmp_path / "a-file").write_text("not a directory")
    args = cli_commands(tmp_path, str(tmp_path / "bilm"), tmp_path / "a-file" / "out")
    line = one_line_error(CliRunner().invoke(app, args[command]))
    assert "a-file" in line or "directory" in line, line


@pytest.mark.parametrize(
    "command", ["embed", "convert", "convert-pipeline", "info", "pretrain-config", "pretrain"]
)
def test_failed_write_is_one_line(tmp_path, tiny_bilm, monkeypatch, command):
    """A file that cannot be put in place (here: no space left as it is renamed) is
    one line, and leaves no temporary."""
    from spacy_elmo import save_weights_files
    from spacy_elmo.io import atomic

    save_weights_files(tiny_bilm, tmp_path / "bilm")
    out = tmp_path / "out"
    args = cli_commands(tmp_path, str(tmp_path / "bilm"), out)[command]

    def full(source, target):
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(atomic.os, "replace", full)
    line = one_line_error(CliRunner().invoke(app, args))
    assert line.startswith("Error: No space left on device: "), line
    assert not [p for p in tmp_path.rglob(".*.tmp")]
