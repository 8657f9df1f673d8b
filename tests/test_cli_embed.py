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
    assert mapping["Hello"] == 3 and mapping[""] == 1
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
