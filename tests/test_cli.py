import errno
import os
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


def is_fifo(path):
    """Whether a path is a FIFO, or a symlink to one."""
    import stat

    return stat.S_ISFIFO(os.stat(path).st_mode)


@pytest.mark.parametrize(
    "command,where",
    [("embed", ""), ("info", ""), ("pretrain-config", ""), ("merge", "")]
    + [("convert", "weights.hdf5"), ("convert-pipeline", "")],
)
@pytest.mark.parametrize("link", [False, True])
def test_force_never_replaces_a_named_pipe(tmp_path, tiny_bilm, command, where, link):
    """A FIFO (or a symlink to one) where an output goes is refused with one line, even
    with --force, and left as it was; no temporary stays behind. (A FIFO stands for
    every non-regular file: devices are refused by the same check.)"""
    from spacy_elmo import save_weights_files

    save_weights_files(tiny_bilm, tmp_path / "bilm")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    out = tmp_path / "out"
    target = out / where if where else out
    if where:
        out.mkdir()
    if link:
        target.symlink_to(fifo)
    else:
        os.mkfifo(target)
    if command == "merge":
        (tmp_path / "in.txt").write_text("The bank .\nHello\n", encoding="utf8")
        shards = [tmp_path / "s0.hdf5", tmp_path / "s1.hdf5"]
        for k, shard in enumerate(shards):
            embed = ["embed", tmp_path / "in.txt", shard, "-w", tmp_path / "bilm"]
            assert CliRunner().invoke(app, [*map(str, embed), "--shard", f"{k}/2"]).exit_code == 0
        args = ["merge", str(out), *map(str, shards)]
    else:
        args = cli_commands(tmp_path, str(tmp_path / "bilm"), out)[command]
    line = one_line_error(CliRunner().invoke(app, [*args, "--force"]))
    assert "not a regular file" in line or "not a folder" in line, line
    assert is_fifo(fifo) and is_fifo(target) and os.path.islink(target) == link
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_pretraining_never_replaces_a_named_pipe(tmp_path):
    """Pretraining's files go through the same atomic writer: when a FIFO has taken
    the place of a run's weights, resuming the run stops with one line (before the
    FIFO could be replaced) and the FIFO stays."""
    out = tmp_path / "run"
    (tmp_path / "in.txt").write_text("The bank raised its rates .\n" * 20, encoding="utf8")
    args = ["pretrain", out, "--preset", "tiny", "--train", tmp_path / "in.txt",
            "--training.batch_size", "2", "--training.unroll_steps", "4",
            "--training.checkpoint_every", "2", "--vocab.min_count", "1"]  # fmt: skip
    runner = CliRunner()
    result = runner.invoke(app, [*map(str, args), "--training.max_steps", "2"])
    assert result.exit_code == 0, result.output
    (out / "weights.hdf5").unlink()
    os.mkfifo(out / "weights.hdf5")
    line = one_line_error(runner.invoke(app, [*map(str, args), "--training.max_steps", "4"]))
    assert "weights.hdf5 is a named pipe (FIFO), not a regular file" in line, line
    assert is_fifo(out / "weights.hdf5")


def test_an_output_is_never_an_input(tmp_path, tiny_bilm):
    """An output that is one of the command's inputs, under any name (another
    spelling, a symlink, a hard link), is refused with one line, even with --force,
    and the input is left as it was."""
    from spacy_elmo import save_weights_files

    bilm = tmp_path / "bilm"
    save_weights_files(tiny_bilm, bilm)
    text = tmp_path / "in.txt"
    text.write_text("The bank .\nHello\n", encoding="utf8")
    (tmp_path / "vocab.txt").write_text("bank\n", encoding="utf8")
    (tmp_path / "sub").mkdir()
    os.symlink(text, tmp_path / "link.txt")
    os.link(text, tmp_path / "hard.txt")
    shards = [tmp_path / "s0.hdf5", tmp_path / "s1.hdf5"]
    for k, shard in enumerate(shards):
        args = ["embed", text, shard, "-w", bilm, "--shard", f"{k}/2"]
        assert CliRunner().invoke(app, [str(a) for a in args]).exit_code == 0
    embed = ["embed", text]
    cases = [
        embed + [text],
        embed + [tmp_path / "sub" / ".." / "in.txt"],
        embed + [tmp_path / "link.txt"],
        embed + [tmp_path / "hard.txt"],
        embed + [tmp_path / "vocab.txt", "--vocab", tmp_path / "vocab.txt"],
        embed + [bilm / "weights.hdf5"],
        ["merge", tmp_path / "sub" / ".." / "s0.hdf5", *shards],
        ["info", bilm, "--json", bilm / "options.json"],
        ["convert", bilm, bilm],
        ["convert", bilm, tmp_path, "--to", "pipeline"],
    ]
    before = {p: p.read_bytes() for p in [text, *shards, *bilm.iterdir()]}
    for args in cases:
        args = [str(a) for a in args] + ["--force"]
        if args[0] == "embed":
            args += ["-w", str(bilm)]
        line = one_line_error(CliRunner().invoke(app, args))
        assert "the input" in line and "write the output elsewhere" in line, (args, line)
    assert {p: p.read_bytes() for p in before} == before
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
