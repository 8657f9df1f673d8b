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
