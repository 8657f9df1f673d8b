"""The embed, merge, info and convert commands, through the real entry point."""

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest

from spacy_elmo import ElmoEmbedder, load_bilm, save_weights_files

LINES = ["The bank raised rates .", "", "We sat on the river bank .", "Hello", "a b c d e f"]


def run(*args, check=True):
    result = subprocess.run(
        [sys.executable, "-m", "spacy_elmo", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture
def setup(tmp_path, tiny_bilm):
    save_weights_files(tiny_bilm, tmp_path / "bilm")
    (tmp_path / "in.txt").write_text("\n".join(LINES) + "\n", encoding="utf8")
    return tmp_path, str(tmp_path / "bilm")


def expected_layers(weights):
    embedder = ElmoEmbedder(weights, device="cpu")
    return [embedder.embed_sentence(line.split()) for line in LINES]


def test_embed_per_line_like_allennlp(setup):
    tmp, weights = setup
    run("embed", tmp / "in.txt", tmp / "out.hdf5", "--weights", weights)
    expected = expected_layers(weights)
    with h5py.File(tmp / "out.hdf5", "r") as f:
        assert sorted(f) == sorted([str(i) for i in range(len(LINES))] + ["sentence_to_index"])
        for i, layers in enumerate(expected):
            assert f[str(i)].shape == (3, len(LINES[i].split()), 16)
            np.testing.assert_allclose(f[str(i)][()], layers, atol=1e-5)
        mapping = json.loads(f["sentence_to_index"][0])
    assert mapping["Hello"] == "3" and mapping[""] == "1"
    assert not list(tmp.glob(".*"))


@pytest.mark.parametrize(
    "args,reduce",
    [
        (["--mode", "top"], lambda x: x[-1]),
        (["--mode", "average"], lambda x: x.mean(axis=0)),
        (["--mode", "mix", "--mix", "0,0,0"], lambda x: x.mean(axis=0)),
    ],
)
def test_embed_modes(setup, args, reduce):
    tmp, weights = setup
    run("embed", tmp / "in.txt", tmp / "out.hdf5", "--weights", weights, *args)
    with h5py.File(tmp / "out.hdf5", "r") as f:
        for i, layers in enumerate(expected_layers(weights)):
            np.testing.assert_allclose(f[str(i)][()], reduce(layers), atol=1e-5)


def read_concat(path):
    with h5py.File(path, "r") as f:
        vectors, offsets, lines = f["vectors"][()], f["offsets"][()], f["line_index"][()]
    return {int(line): vectors[..., offsets[k] : offsets[k + 1], :] for k, line in enumerate(lines)}


def test_concat_layout_and_shards(setup):
    tmp, weights = setup
    run("embed", tmp / "in.txt", tmp / "all.hdf5", "-w", weights, "--layout", "concat")
    whole = read_concat(tmp / "all.hdf5")
    for i, layers in enumerate(expected_layers(weights)):
        np.testing.assert_allclose(whole[i], layers, atol=1e-5)
    for layout in ("concat", "per-line"):
        for k in (0, 1):
            shard = tmp / f"{layout}-{k}.hdf5"
            run(
                "embed",
                tmp / "in.txt",
                shard,
                "-w",
                weights,
                "--layout",
                layout,
                "--shard",
                f"{k}/2",
            )
        merged = tmp / f"{layout}.hdf5"
        run("merge", merged, tmp / f"{layout}-0.hdf5", tmp / f"{layout}-1.hdf5")
        if layout == "concat":
            result = read_concat(merged)
            assert list(result) == list(range(len(LINES)))
        else:
            with h5py.File(merged, "r") as f:
                result = {i: f[str(i)][()] for i in range(len(LINES))}
                assert len(json.loads(f["sentence_to_index"][0])) == len(LINES)
        for i in range(len(LINES)):
            np.testing.assert_allclose(result[i], whole[i], atol=1e-6)  # other batches


def test_refuses_to_overwrite_without_force(setup):
    tmp, weights = setup
    (tmp / "out.hdf5").write_bytes(b"keep me")
    result = run("embed", tmp / "in.txt", tmp / "out.hdf5", "-w", weights, check=False)
    assert result.returncode != 0 and "--force" in result.stderr
    assert (tmp / "out.hdf5").read_bytes() == b"keep me"
    run("embed", tmp / "in.txt", tmp / "out.hdf5", "-w", weights, "--force")
    assert h5py.is_hdf5(tmp / "out.hdf5")


def test_undecodable_bytes(setup):
    tmp, weights = setup
    (tmp / "bad.txt").write_bytes(b"fine line\nbad \xff byte\n")
    result = run("embed", tmp / "bad.txt", tmp / "out.hdf5", "-w", weights, check=False)
    assert result.returncode != 0
    assert "bad.txt, line 2: not valid UTF-8" in result.stderr
    assert not (tmp / "out.hdf5").exists() and not list(tmp.glob(".*"))
    run("embed", tmp / "bad.txt", tmp / "out.hdf5", "-w", weights, "--replace-errors")
    with h5py.File(tmp / "out.hdf5", "r") as f:
        assert "bad \ufffd byte" in json.loads(f["sentence_to_index"][0])


def test_use_spacy_tokenizes_raw_text(setup):
    tmp, weights = setup
    (tmp / "raw.txt").write_text("Hello, world! Don't.\n")
    run("embed", tmp / "raw.txt", tmp / "out.hdf5", "-w", weights, "--use-spacy", "blank:en")
    with h5py.File(tmp / "out.hdf5", "r") as f:
        assert f["0"].shape[1] == 7  # Hello , world ! Do n't .


def peak_rss_mib(tmp, weights, n_lines):
    path = tmp / f"big{n_lines}.txt"
    path.write_text("\n".join(f"line {i} with some words w{i % 50} ." for i in range(n_lines)))
    code = (
        "import resource, sys; from spacy_elmo.cli import app\n"
        "try:\n    app(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, "embed", str(path), str(tmp / f"big{n_lines}.hdf5")]
        + ["-w", weights, "--layout", "concat", "--mode", "top", "--batch-size", "16"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def test_memory_does_not_grow_with_input_size(setup):
    tmp, weights = setup
    small = peak_rss_mib(tmp, weights, 2_000)
    large = peak_rss_mib(tmp, weights, 16_000)  # 1,000 batches
    assert large - small < 25, (small, large)
    with h5py.File(tmp / "big16000.hdf5", "r") as f:
        assert f.attrs["n_lines"] == 16_000 and f["offsets"][-1] == 16_000 * 7


def test_info_and_convert(setup, tiny_bilm):
    tmp, weights = setup
    out = run("info", weights).stdout
    assert "sha256:" in out and "parameters:" in out and "output:     3 layers of 16" in out
    run("convert", weights, tmp / "pipeline", "--to", "pipeline")
    run("convert", tmp / "pipeline", tmp / "files")
    with (
        h5py.File(tmp / "bilm" / "weights.hdf5", "r") as a,
        h5py.File(tmp / "files" / "weights.hdf5", "r") as b,
    ):
        names = []
        a.visit(lambda n: names.append(n) if isinstance(a[n], h5py.Dataset) else None)
        for name in names:
            assert a[name][()].tobytes() == b[name][()].tobytes(), name
    assert load_bilm(tmp / "pipeline").output_dim == 16
    result = run("convert", weights, tmp / "files", check=False)
    assert result.returncode != 0 and "overwrite" in result.stderr


def test_embed_with_vocabulary(setup):
    tmp, weights = setup
    (tmp / "vocab.txt").write_text("The\nbank\n.\nriver\n")
    run("embed", tmp / "in.txt", tmp / "out.hdf5", "-w", weights, "--vocab", tmp / "vocab.txt")
    with h5py.File(tmp / "out.hdf5", "r") as f:
        for i, layers in enumerate(expected_layers(weights)):
            np.testing.assert_allclose(f[str(i)][()], layers, atol=1e-5)


def test_sentence_index_is_allennlps(setup):
    """sentence_to_index maps each stripped line to its dataset key, as a string, so
    AllenNLP-style code `f[index[sentence]]` reads it; a blank line maps "" to a
    0-token dataset."""
    tmp, weights = setup
    (tmp / "in.txt").write_text("  The bank .  \n\nHello\n", encoding="utf8")
    run("embed", tmp / "in.txt", tmp / "out.hdf5", "--weights", weights)
    with h5py.File(tmp / "out.hdf5", "r") as f:
        index = json.loads(f["sentence_to_index"][0])
        assert index == {"The bank .": "0", "": "1", "Hello": "2"}
        assert f[index["The bank ."]].shape == (3, 3, 16)
        assert f[index[""]].shape == (3, 0, 16)
        assert f.attrs["shard"] == "0/1" and f.attrs["mode"] == "all"
        assert f.attrs["input"] == "in.txt" and len(f.attrs["input_sha256"]) == 64


def embed_shards(tmp, weights, layout, text="in.txt", n=2, prefix="s"):
    paths = []
    for k in range(n):
        path = tmp / f"{prefix}-{layout}-{k}.hdf5"
        run("embed", tmp / text, path, "-w", weights, "--layout", layout, "--shard", f"{k}/{n}")
        paths.append(path)
    return paths


@pytest.mark.parametrize("layout", ["per-line", "concat"])
def test_merge_takes_each_shard_of_one_input_once(setup, layout):
    tmp, weights = setup
    s0, s1 = embed_shards(tmp, weights, layout)
    out = tmp / "merged.hdf5"
    for shards, message in [
        ([s0, s0], "twice"),  # the same shard twice
        ([s0], "missing: 1/2"),  # a shard left out
    ]:
        result = run("merge", out, *shards, check=False)
        assert result.returncode == 1, result.stdout
        assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr
        assert "Traceback" not in result.stderr and not out.exists()
    (tmp / "other.txt").write_text("Another text\nentirely\n", encoding="utf8")
    (o1,) = embed_shards(tmp, weights, layout, text="other.txt", prefix="o")[1:]
    result = run("merge", out, s0, o1, check=False)
    assert result.returncode == 1 and "input_sha256" in result.stderr
    run("merge", out, s1, s0)
    with h5py.File(out, "r") as f:
        assert f.attrs["n_lines"] == len(LINES) and f.attrs["shard"] == "0/1"
    assert not list(tmp.glob(".*.tmp"))


def one_error_line(result):
    """The CLI's one error line (CliRunner result)."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def cli(*args):
    from typer.testing import CliRunner

    from spacy_elmo.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def test_merge_refuses_shards_made_differently(setup, tiny_bilm):
    """Shards record what made them: the weights (by checksum, wherever they lie),
    the tokenizer and the stored layers; a merge of shards that differ in one is
    refused, naming both files and the field; the merged file keeps the record."""
    import shutil

    import torch

    tmp, weights = setup
    shutil.copytree(tmp / "bilm", tmp / "copy")
    with torch.no_grad():
        next(tiny_bilm.parameters()).add_(0.5)
    save_weights_files(tiny_bilm, tmp / "other")
    embed = ["embed", tmp / "in.txt"]
    assert cli(*embed, tmp / "s0.hdf5", "-w", weights, "--shard", "0/2").exit_code == 0
    odd = {
        "weights_sha256": ["-w", tmp / "other"],
        "tokenizer": ["-w", weights, "--use-spacy", "blank:en"],
        "mode": ["-w", weights, "--mode", "top"],
        "layout": ["-w", weights, "--layout", "concat"],
    }
    for field, args in odd.items():
        shard = tmp / f"{field}.hdf5"
        assert cli(*embed, shard, *args, "--shard", "1/2").exit_code == 0
        line = one_error_line(cli("merge", tmp / "merged.hdf5", tmp / "s0.hdf5", shard))
        assert f"s0.hdf5 and {shard} differ in {field}" in line, line
        assert not (tmp / "merged.hdf5").exists()
    # The same weights in another folder have the same checksum.
    assert cli(*embed, tmp / "s1.hdf5", "-w", tmp / "copy", "--shard", "1/2").exit_code == 0
    result = cli("merge", tmp / "merged.hdf5", tmp / "s0.hdf5", tmp / "s1.hdf5")
    assert result.exit_code == 0, result.output
    with h5py.File(tmp / "s0.hdf5", "r") as s0, h5py.File(tmp / "merged.hdf5", "r") as f:
        record = dict(f.attrs)
        assert record["shard"] == "0/1" and record["tokenizer"] == "whitespace"
        for key in ("input_sha256", "weights_sha256", "mode", "spacy_elmo"):
            assert record[key] == s0.attrs[key], key
    assert len(record["weights_sha256"]) == 64


def test_merge_refuses_shards_without_a_record(setup):
    """Shards written before files recorded what made them cannot be checked, so
    they are refused, with what to do about it."""
    tmp, weights = setup
    shards = embed_shards(tmp, weights, "per-line")
    with h5py.File(shards[1], "a") as f:
        for key in ("weights_sha256", "tokenizer", "spacy_elmo"):
            del f.attrs[key]
    line = one_error_line(cli("merge", tmp / "merged.hdf5", *shards))
    assert f"{shards[1]}: no record of weights_sha256, tokenizer, spacy_elmo" in line
    assert "embed it again" in line and not (tmp / "merged.hdf5").exists()


def feed(fifo, data):
    """Write data into a FIFO from a thread; returns the thread."""
    import threading

    def write():
        try:
            with open(fifo, "wb") as f:
                f.write(data)
        except BrokenPipeError:
            pass

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def release(fifo, thread):
    """Unblock a feeder still waiting for a reader (when the command never read)."""
    import os

    if thread.is_alive():
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        thread.join(timeout=10)
        os.close(fd)


def test_embed_reads_a_pipe_once(setup):
    """A named pipe or a process substitution is read once and embedded like the file
    itself, with the same record of the input; no run hangs (a timeout guards) or
    leaves a temporary."""
    import os
    import shutil

    tmp, weights = setup
    run("embed", tmp / "in.txt", tmp / "file.hdf5", "-w", weights, "--mode", "top")
    fifo = tmp / "pipe.txt"
    os.mkfifo(fifo)
    thread = feed(fifo, (tmp / "in.txt").read_bytes())
    try:
        result = subprocess.run(
            [sys.executable, "-m", "spacy_elmo", "embed", str(fifo), str(tmp / "fifo.hdf5")]
            + ["-w", weights, "--mode", "top"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        release(fifo, thread)
    assert result.returncode == 0, result.stderr
    assert f"Wrote {len(LINES)} lines" in result.stdout
    outputs = ["fifo.hdf5"]
    if shutil.which("bash"):
        command = (
            f"'{sys.executable}' -m spacy_elmo embed <(cat in.txt) substituted.hdf5 "
            f"-w '{weights}' --mode top"
        )
        result = subprocess.run(
            ["bash", "-c", command], cwd=tmp, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0 and f"Wrote {len(LINES)} lines" in result.stdout, (
            result.stderr
        )
        outputs.append("substituted.hdf5")
    with h5py.File(tmp / "file.hdf5", "r") as expected:
        for name in outputs:
            with h5py.File(tmp / name, "r") as f:
                assert f.attrs["input_sha256"] == expected.attrs["input_sha256"]
                assert f.attrs["n_lines"] == len(LINES)
                for i in range(len(LINES)):
                    np.testing.assert_array_equal(f[str(i)][()], expected[str(i)][()])
    assert not list(tmp.glob(".*.tmp"))


def test_byte_order_mark_is_not_part_of_the_first_sentence(setup):
    """A UTF-8 BOM (as some editors write) is not text: the first sentence's key and
    tokens are as without it, and the vectors too."""
    import codecs

    from spacy_elmo.io.text import read_lines

    tmp, weights = setup
    (tmp / "bom.txt").write_bytes(codecs.BOM_UTF8 + b"The bank .\nHello\n")
    (tmp / "plain.txt").write_text("The bank .\nHello\n", encoding="utf8")
    assert list(read_lines(tmp / "bom.txt")) == [(0, "The bank ."), (1, "Hello")]
    for name in ("bom", "plain"):
        result = cli("embed", tmp / f"{name}.txt", tmp / f"{name}.hdf5", "-w", weights)
        assert result.exit_code == 0, result.output
    with h5py.File(tmp / "bom.hdf5", "r") as bom, h5py.File(tmp / "plain.hdf5", "r") as plain:
        assert json.loads(bom["sentence_to_index"][0]) == {"The bank .": "0", "Hello": "1"}
        np.testing.assert_array_equal(bom["0"][()], plain["0"][()])


def test_first_vectors_come_after_one_batch(tiny_bilm, tmp_path):
    """The progress bar moves once the first batch is embedded, not after 32."""
    from spacy_elmo.io.embed_file import embed_to_hdf5, make_reducer

    embedder = ElmoEmbedder(tiny_bilm, device="cpu", batch_size=4)
    read = []
    first = []

    def items():
        for i in range(300):
            read.append(i)
            yield i, "a b c", ["a", "b", "c"]

    def on_sentence():
        if not first:
            first.append(len(read))

    n = embed_to_hdf5(
        embedder,
        items(),
        tmp_path / "out.hdf5",
        reducer=make_reducer("top"),
        layout="concat",
        on_sentence=on_sentence,
    )
    assert n == 300 and first == [4]
    with h5py.File(tmp_path / "out.hdf5", "r") as f:
        assert list(f["line_index"][()]) == list(range(300))


def test_embed_cleans_up_and_checks_its_output_first(setup):
    """A temporary left by a killed run is removed by the next; an output that is a
    directory is refused before any work, leaving nothing behind."""
    tmp, weights = setup
    stale = tmp / ".out.hdf5.k1ll3d.tmp"
    stale.write_bytes(b"\0" * 1000)
    result = run("embed", tmp / "in.txt", tmp / "out.hdf5", "-w", weights)
    assert not stale.exists() and "Removed" in result.stdout
    (tmp / "outdir").mkdir()
    result = run("embed", tmp / "in.txt", tmp / "outdir", "-w", weights, "--force", check=False)
    assert result.returncode != 0 and "is a directory" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp.glob(".*.tmp")) and not list((tmp / "outdir").iterdir())


def test_unwritable_output_is_one_line(setup, monkeypatch):
    """A write that fails with no permission (or a read-only or full disk) is one
    line and exit code 1, with the temporary removed."""
    from typer.testing import CliRunner

    from spacy_elmo.cli import app
    from spacy_elmo.io import embed_file

    tmp, weights = setup

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp / "out.hdf5"))

    monkeypatch.setattr(embed_file, "_write", refuse)
    result = CliRunner().invoke(
        app, ["embed", str(tmp / "in.txt"), str(tmp / "out.hdf5"), "-w", weights]
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == f"Error: Permission denied: {tmp / 'out.hdf5'}"
    assert not list(tmp.glob(".*.tmp")) and not (tmp / "out.hdf5").exists()


def test_convert_to_pipeline_replaces_the_folder_whole(setup, tiny_bilm):
    """`convert --to pipeline --force` into a folder holding another biLM's files (or
    another pipeline) leaves exactly the new pipeline there, with no old file mixed
    in; a folder holding anything else is refused even with --force, untouched."""
    import torch

    tmp, weights = setup
    with torch.no_grad():
        next(tiny_bilm.parameters()).add_(0.5)
    save_weights_files(tiny_bilm, tmp / "target")  # another biLM's options + weights
    assert cli("convert", weights, tmp / "fresh", "--to", "pipeline").exit_code == 0
    line = one_error_line(cli("convert", weights, tmp / "target", "--to", "pipeline"))
    assert "pass --force" in line
    result = cli("convert", weights, tmp / "target", "--to", "pipeline", "--force")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp / "target").iterdir()) == sorted(
        p.name for p in (tmp / "fresh").iterdir()
    )
    assert not (tmp / "target" / "weights.hdf5").exists()
    expected = load_bilm(weights).state_dict()
    for name, value in load_bilm(tmp / "target").state_dict().items():
        assert torch.equal(value, expected[name]), name
    # Over a pipeline again: still one pipeline.
    assert cli("convert", weights, tmp / "target", "--to", "pipeline", "--force").exit_code == 0
    (tmp / "mine").mkdir()
    (tmp / "mine" / "notes.txt").write_text("keep me")
    line = one_error_line(cli("convert", weights, tmp / "mine", "--to", "pipeline", "--force"))
    assert "holds notes.txt" in line
    assert [p.name for p in (tmp / "mine").iterdir()] == ["notes.txt"]
    assert not list(tmp.glob(".*.tmp"))
