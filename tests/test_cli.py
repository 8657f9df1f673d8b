import shutil
import subprocess
import sys

from typer.testing import CliRunner

from spacy_elmo import load_bilm
from spacy_elmo.cli import app


def test_demo_through_the_module_entry_point(tmp_path):
    out = tmp_path / "tiny"
    result = subprocess.run(
        [sys.executable, "-m", "spacy_elmo", "demo", "--out", str(out), "--threads", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "layers (3, 8, 128)" in result.stdout
    assert "Cosine similarity of 'bank'" in result.stdout
    assert load_bilm(out).output_dim == 128


def test_demo_with_given_weights(fixtures_dir, tmp_path):
    shutil.copy(fixtures_dir / "options.json", tmp_path / "options.json")
    shutil.copy(fixtures_dir / "lm_weights.hdf5", tmp_path / "weights.hdf5")
    result = CliRunner().invoke(app, ["demo", "--weights", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "3 layers of 32 dims" in result.output
    result = CliRunner().invoke(app, ["demo", "--weights", str(tmp_path / "missing")])
    assert result.exit_code != 0
    assert "ELMo weights not found" in str(result.exception)


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
