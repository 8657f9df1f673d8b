"""Every file the command line writes gets the mode an ordinary write gives under the
umask (0644 under the usual 022), so that another user or a server can read it."""

import os
import stat

import pytest
from typer.testing import CliRunner

from spacy_elmo import save_weights_files
from spacy_elmo.cli import app


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_every_file_the_cli_writes_is_world_readable(tmp_path, tiny_bilm, umask_022):
    bilm, out, text = tmp_path / "bilm", tmp_path / "out", tmp_path / "in.txt"
    out.mkdir()
    save_weights_files(tiny_bilm, bilm)
    text.write_text("The bank raised its rates .\nWe sat on the river bank .\n" * 20)
    commands = [
        ["embed", text, out / "all.hdf5", "-w", bilm],
        ["embed", text, out / "s0.hdf5", "-w", bilm, "--shard", "0/2"],
        ["embed", text, out / "s1.hdf5", "-w", bilm, "--shard", "1/2", "--layout", "per-line"],
        ["merge", out / "merged.hdf5", out / "s0.hdf5", out / "s1.hdf5"],
        ["info", bilm, "--json", out / "info.json"],
        ["convert", bilm, out / "files"],
        ["convert", bilm, out / "pipeline", "--to", "pipeline"],
        ["pretrain-config", out / "pretrain.cfg", "--preset", "tiny"],
        [
            "pretrain", out / "run", "--preset", "tiny", "--train", text, "--heldout", text,
            "--training.max_steps", "4", "--training.batch_size", "2",
            "--training.unroll_steps", "4", "--training.checkpoint_every", "2",
            "--training.eval_every", "2", "--vocab.min_count", "1", "--system.threads", "1",
        ],
    ]  # fmt: skip
    runner = CliRunner()
    for args in commands:
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, f"{args[0]}: {result.output}"
    files = [p for p in [*out.rglob("*"), *bilm.iterdir()] if p.is_file()]
    assert len(files) > 20
    wrong = {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    wrong = {p: mode for p, mode in wrong.items() if mode != "0o644"}
    assert not wrong
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def snapshot(root):
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def refuse_renames(monkeypatch):
    """Every atomic write fails as its finished file is put in place (a full disk)."""
    import errno

    from spacy_elmo.io import atomic

    def refuse(source, target):
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(atomic.os, "replace", refuse)


def changed(bilm):
    import torch

    with torch.no_grad():
        next(bilm.parameters()).add_(1.0)
    return bilm


@pytest.mark.parametrize("writer", ["weights", "pipeline", "merge", "pretrain"])
def test_a_failed_write_keeps_the_previous_files(tmp_path, tiny_bilm, monkeypatch, writer):
    """Write once, then write different content while every rename fails: the first
    files stay as they were, byte for byte, and no temporary is left."""
    import spacy

    out = tmp_path / "out"
    text = tmp_path / "in.txt"
    text.write_text("The bank raised its rates .\nWe sat on the river bank .\n" * 20)
    save_weights_files(tiny_bilm, tmp_path / "bilm")
    runner = CliRunner()
    pretrain = ["pretrain", out, "--preset", "tiny", "--train", text, "--heldout", text,
                "--training.batch_size", "2", "--training.unroll_steps", "4",
                "--training.checkpoint_every", "2", "--vocab.min_count", "1"]  # fmt: skip
    shards = [tmp_path / "s0.hdf5", tmp_path / "s1.hdf5"]

    def cli(*args):
        return runner.invoke(app, [str(a) for a in args])

    if writer == "weights":
        save_weights_files(tiny_bilm, out)
    elif writer == "pipeline":
        nlp = spacy.blank("en")
        nlp.add_pipe("elmo", config={"weights": str(tmp_path / "bilm")})
        nlp.to_disk(out)
    elif writer == "merge":
        for k, shard in enumerate(shards):
            assert (
                cli("embed", text, shard, "-w", tmp_path / "bilm", "--shard", f"{k}/2").exit_code
                == 0
            )
        out.mkdir()
        assert cli("merge", out / "all.hdf5", *shards).exit_code == 0
    else:
        assert cli(*pretrain, "--training.max_steps", "2").exit_code == 0
    before = snapshot(out)
    refuse_renames(monkeypatch)
    if writer == "weights":
        with pytest.raises(OSError, match="No space left"):
            save_weights_files(changed(tiny_bilm), out, overwrite=True)
    elif writer == "pipeline":
        nlp.get_pipe("elmo").load_weights(changed(tiny_bilm))
        with pytest.raises(OSError, match="No space left"):
            nlp.to_disk(out)
    elif writer == "merge":
        result = cli("merge", out / "all.hdf5", *reversed(shards), "--force")
        assert result.exit_code == 1 and "No space left" in result.output
    else:
        result = cli(*pretrain, "--training.max_steps", "6")
        assert result.exit_code == 1 and "No space left" in result.output
        before.pop(out / "train_log.jsonl")  # the log is appended to, line by line
    after = snapshot(out)
    for path, data in before.items():
        assert after[path] == data, path
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
