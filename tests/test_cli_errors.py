"""Every user error of the command line is one `Error:` line on stderr and exit code
1, click's usage errors included; never a traceback or click's usage box."""

import importlib.util
import subprocess
import sys

import pytest
import torch
from typer.testing import CliRunner

from spacy_elmo import __version__, save_weights_files
from spacy_elmo.cli import app


def run(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "spacy_elmo", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


@pytest.fixture
def workdir(tmp_path, tiny_bilm):
    save_weights_files(tiny_bilm, tmp_path / "bilm")
    (tmp_path / "in.txt").write_text("The bank .\nHello\n", encoding="utf8")
    return tmp_path


EMBED = ["embed", "in.txt", "out.hdf5", "-w", "bilm"]
BAD_INVOCATIONS = [
    (EMBED + ["--threads", "0"], "'--threads'"),
    (EMBED + ["--threads", "-3"], "'--threads'"),
    (EMBED + ["--device", "5"], "--device 5: this PyTorch"),
    (EMBED + ["--device", "cuda"], "--device cuda: this PyTorch"),
    (EMBED + ["--device", "gpu"], "--device takes cpu, cuda or a CUDA index"),
    (EMBED + ["--use-spacy", "en_core_web_sm"], "python -m spacy download en_core_web_sm"),
    (EMBED + ["--use-spacy", "blank:qq"], "--use-spacy blank:qq: spaCy has no such language"),
    (EMBED + ["--batch-size", "0"], "'--batch-size'"),
    (EMBED + ["--mode", "mix", "--mix", "a,b"], "--mix takes numbers"),
    (EMBED + ["--shard", "3"], "--shard must look like K/N"),
    (EMBED + ["--bogus"], "No such option: --bogus"),
    (["embed", "missing.txt", "out.hdf5"], "missing.txt"),
    (["embed"], "Missing argument"),
    (["no-such-command"], "No such command"),
    (["pretrain", "run", "--threads", "1", "--train", "in.txt"], "--system.threads"),
    (["pretrain", "run", "extra", "--train", "in.txt"], "unexpected argument 'extra'"),
    (["demo", "--threads", "0"], "'--threads'"),
    (["perplexity", "bilm", "in.txt", "--unroll-steps", "0"], "'--unroll-steps'"),
    (["perplexity", "bilm", "in.txt", "--threads", "-2"], "'--threads'"),
    (["convert", "bilm", "pipe", "--to", "pipeline", "--lang", "qq"], "--lang qq"),
    (["convert", "bilm", "pipe", "--to", "nothing"], "--to must be files or pipeline"),
]


def needs_skip(args):
    if torch.cuda.is_available() and "--device" in args:
        return "this PyTorch has CUDA"
    if "en_core_web_sm" in args and importlib.util.find_spec("en_core_web_sm"):
        return "en_core_web_sm is installed"
    return None


def check_one_error_line(returncode, stderr, expected):
    assert returncode == 1, stderr
    assert "Traceback" not in stderr and "╭" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    assert expected in lines[0], lines[0]


@pytest.mark.parametrize(
    "args,expected", BAD_INVOCATIONS, ids=lambda v: " ".join(v)[:40] if isinstance(v, list) else ""
)
def test_bad_invocation_is_one_error_line(workdir, monkeypatch, args, expected):
    if needs_skip(args):
        pytest.skip(needs_skip(args))
    monkeypatch.chdir(workdir)
    result = CliRunner().invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    check_one_error_line(result.exit_code, result.stderr, expected)
    assert not result.stdout
    assert not (workdir / "out.hdf5").exists() and not (workdir / "pipe").exists()


def test_bad_invocations_through_the_entry_point(workdir):
    """The same through `python -m spacy_elmo`, for a few of each kind (click's usage
    errors, ours, and pretrain's overrides), in one process each."""
    for args, expected in [BAD_INVOCATIONS[i] for i in (0, 2, 5, 10, 14)]:
        if needs_skip(args):
            continue
        result = run(*args, cwd=workdir)
        check_one_error_line(result.returncode, result.stderr, expected)


def test_convert_names_the_force_option(workdir):
    """Not the Python API's `overwrite=True`."""
    assert run("convert", "bilm", "files", cwd=workdir).returncode == 0
    result = run("convert", "bilm", "files", cwd=workdir)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and "pass --force" in result.stderr
    assert "overwrite=True" not in result.stderr
    assert run("convert", "bilm", "files", "--force", cwd=workdir).returncode == 0


def test_version(tmp_path):
    result = run("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"spacy-elmo {__version__}"
