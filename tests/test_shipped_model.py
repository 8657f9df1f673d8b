"""The biLM shipped in the package (en-open-3m): where it resolves, that it loads
bit-exactly, that its name works wherever weights are accepted, and that a wheel
carries it."""

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import spacy
import torch
from typer.testing import CliRunner

from spacy_elmo import ElmoEmbedder, load_bilm, save_weights_files
from spacy_elmo.cli import app
from spacy_elmo.io.packaged import DEFAULT_MODEL, MODELS_DIR, PACKAGED_MODELS, packaged_dir
from spacy_elmo.io.references import DEFAULT_WEIGHTS, resolve_weights

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "spacy_elmo" / "models" / "en-open-3m"
MODEL_FILES = (
    "options.json",
    "weights.hdf5",
    "vocab.txt",
    "softmax.hdf5",
    "config.cfg",
    "train_log.jsonl",
    "LICENSE",
)
TEXT = "The bank raised its rates .\nShe sat on the river bank .\n"


def datasets(path: Path) -> dict:
    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, obj: (
                found.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None
            )
        )
    return found


def test_default_is_the_shipped_files():
    assert DEFAULT_WEIGHTS == DEFAULT_MODEL == "en-open-3m" and DEFAULT_MODEL in PACKAGED_MODELS
    assert MODELS_DIR.resolve() == SHIPPED.parent.resolve()
    assert packaged_dir("EN-Open-3M") == packaged_dir("en-open-3m")
    assert packaged_dir("small") is None
    files = resolve_weights("en-open-3m")
    options, weights = files.options, files.weights
    assert options.resolve() == (SHIPPED / "options.json").resolve()
    assert weights.resolve() == (SHIPPED / "weights.hdf5").resolve()
    for name in MODEL_FILES:
        assert (SHIPPED / name).is_file(), name


def test_model_card_states_the_checksum_info_prints():
    from spacy_elmo.io.formats import checksum

    card = (REPO / "docs" / "model-card.md").read_text(encoding="utf8")
    assert f"`{checksum(resolve_weights('en-open-3m'))}`" in card


def test_loads_bit_exactly_in_float32(tmp_path):
    """Every dataset of the shipped file is float32 (or the char ids' int) and comes
    back unchanged after loading and writing the biLM again."""
    shipped = datasets(SHIPPED / "weights.hdf5")
    assert {a.dtype for a in shipped.values()} <= {np.dtype("float32"), np.dtype("int32")}
    bilm = load_bilm("en-open-3m")
    assert all(p.dtype == torch.float32 for p in bilm.parameters())
    assert sum(p.numel() for p in bilm.parameters()) == 2_996_448
    save_weights_files(bilm, tmp_path)
    again = datasets(tmp_path / "weights.hdf5")
    assert sorted(again) == sorted(shipped)
    for name, array in shipped.items():
        assert np.array_equal(again[name], array), name


def test_add_pipe_without_weights_after_initialize():
    nlp = spacy.blank("en")
    nlp.add_pipe("elmo")
    nlp.initialize()
    doc = nlp("The bank raised rates.")
    assert doc[1]._.elmo.shape == (256,)
    expected = ElmoEmbedder(device="cpu").embed_sentence([t.text for t in doc])
    np.testing.assert_allclose(doc[1]._.elmo, expected.mean(axis=0)[1], atol=1e-5)


def test_name_in_component_config_and_saved_pipeline(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("elmo", config={"weights": "en-open-3m", "layers": "top"})
    vector = nlp("The bank raised rates.")[1]._.elmo
    nlp.to_disk(tmp_path / "pipeline")
    assert (
        datasets(tmp_path / "pipeline" / "elmo" / "weights.hdf5").keys()
        == datasets(SHIPPED / "weights.hdf5").keys()
    )
    reloaded = spacy.load(tmp_path / "pipeline")
    np.testing.assert_array_equal(reloaded("The bank raised rates.")[1]._.elmo, vector)


def test_cli_commands_take_the_name_or_default_to_it(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0, result.output
    assert (
        "parameters: 2,996,448" in result.output and "output:     3 layers of 256" in result.output
    )
    result = runner.invoke(app, ["info", "en-open-3m", "--json", str(tmp_path / "info.json")])
    assert result.exit_code == 0, result.output
    facts = json.loads((tmp_path / "info.json").read_text())
    assert facts["reference"] == "en-open-3m" and facts["output_dim"] == 256
    assert Path(facts["weights"]).resolve() == (SHIPPED / "weights.hdf5").resolve()
    (tmp_path / "in.txt").write_text(TEXT, encoding="utf8")
    result = runner.invoke(app, ["embed", str(tmp_path / "in.txt"), str(tmp_path / "out.hdf5")])
    assert result.exit_code == 0, result.output
    embedder = ElmoEmbedder("en-open-3m", device="cpu")
    with h5py.File(tmp_path / "out.hdf5", "r") as f:
        np.testing.assert_allclose(
            f["0"][()], embedder.embed_sentence(TEXT.splitlines()[0].split()), atol=1e-5
        )
    result = runner.invoke(
        app, ["convert", "en-open-3m", str(tmp_path / "pipeline"), "--to", "pipeline"]
    )
    assert result.exit_code == 0, result.output
    assert load_bilm(tmp_path / "pipeline").options.raw == load_bilm("en-open-3m").options.raw


def test_perplexity_of_the_shipped_language_model(tmp_path):
    """The shipped directory is a whole language model: `perplexity` reads it by name
    and scores text far better than its vocabulary's uniform distribution."""
    (tmp_path / "heldout.txt").write_text(
        "The king and the queen walked into the great hall .\n"
        "It was a cold morning , and the river was full of ice .\n" * 5,
        encoding="utf8",
    )
    result = CliRunner().invoke(app, ["perplexity", "en-open-3m", str(tmp_path / "heldout.txt")])
    assert result.exit_code == 0, result.output
    average = float(re.search(r"average perplexity:\s+([\d.]+)", result.output).group(1))
    n_words = len((SHIPPED / "vocab.txt").read_text(encoding="utf8").splitlines())
    assert 1.0 < average < n_words / 20


def test_model_card_reports_the_shipped_training_log():
    """docs/model-card.md states the held-out perplexity of the last evaluation in the
    shipped train_log.jsonl, and the step it was reached at."""
    rows = [json.loads(line) for line in (SHIPPED / "train_log.jsonl").open(encoding="utf8")]
    evals = [r for r in rows if "heldout" in r]
    assert evals, "the shipped train_log.jsonl has no held-out evaluation"
    last = evals[-1]
    figure = last["heldout"]["average"]
    card = (REPO / "docs" / "model-card.md").read_text(encoding="utf8")
    assert f"{figure:.1f}" in card
    assert f"{last['step']:,}" in card


def test_adapting_starts_from_the_shipped_model(tmp_path):
    """`--paths.init_weights en-open-3m` adapts the shipped biLM."""
    (tmp_path / "train.txt").write_text(TEXT * 20, encoding="utf8")
    result = subprocess.run(
        [
            sys.executable, "-m", "spacy_elmo", "pretrain", str(tmp_path / "out"),
            "--train", str(tmp_path / "train.txt"), "--paths.init_weights", "en-open-3m",
            "--training.max_steps", "2", "--training.batch_size", "2",
            "--training.unroll_steps", "5", "--vocab.min_count", "1", "--system.threads", "1",
        ],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Adapting the biLM of en-open-3m" in result.stdout + result.stderr
    assert load_bilm(tmp_path / "out").options.raw == load_bilm("en-open-3m").options.raw


def test_wheel_contains_the_model(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path), str(REPO)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = tmp_path.glob("spacy_elmo-*.whl")
    assert wheel.stat().st_size < 50 * 1024 * 1024
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for name in MODEL_FILES:
            member = f"spacy_elmo/models/en-open-3m/{name}"
            assert member in names, member
            assert z.read(member) == (SHIPPED / name).read_bytes()
