"""The investigation scripts: the untrained-biLM control and the lowercase adaptation text."""

import json

import pytest
import torch

from scripts import adapt_text, random_bilm
from spacy_elmo.bilm.model import ElmoBiLM
from spacy_elmo.io.weights import load_weights_files, save_weights_files

from .util import tiny_options


def test_random_bilm_keeps_options_and_drops_weights(tmp_path):
    torch.manual_seed(1)
    trained = ElmoBiLM(tiny_options())
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(1.0)  # far from any fresh initialisation
    save_weights_files(trained, tmp_path / "trained")
    assert random_bilm.main([str(tmp_path / "trained"), str(tmp_path / "random")]) == 0
    src = json.loads((tmp_path / "trained" / "options.json").read_text())
    assert json.loads((tmp_path / "random" / "options.json").read_text()) == src
    fresh = load_weights_files(
        tmp_path / "random" / "options.json", tmp_path / "random" / "weights.hdf5"
    )
    for (name, a), b in zip(trained.named_parameters(), fresh.parameters()):
        assert a.shape == b.shape, name
        assert not torch.allclose(a, b), name
    # The same seed gives the same control.
    assert random_bilm.main([str(tmp_path / "trained"), str(tmp_path / "again")]) == 0
    a = (tmp_path / "random" / "weights.hdf5").read_bytes()
    assert a == (tmp_path / "again" / "weights.hdf5").read_bytes()


def test_random_bilm_without_options_names_the_file(tmp_path):
    from scripts.console import DataError

    with pytest.raises(DataError, match="options.json"):
        random_bilm.main([str(tmp_path), str(tmp_path / "out")])


def _write_jsonl(path, texts):
    path.write_text("".join(json.dumps({"text": t, "label": "POS"}) + "\n" for t in texts))


def test_adapt_text_mixes_task_and_lowercased_general_text(tmp_path):
    data = tmp_path / "polarity"
    data.mkdir()
    _write_jsonl(data / "train.jsonl", ["a fine film .", "dull and long ."])
    _write_jsonl(data / "dev.jsonl", ["a dev text ."])
    _write_jsonl(data / "test.jsonl", ["NEVER READ ."])
    general = tmp_path / "general.txt"
    general.write_text("".join(f"The Line {i} of Text .\n" for i in range(50)))
    out = tmp_path / "adapt"
    task = [str(data / "train.jsonl"), str(data / "dev.jsonl")]
    args = task + [str(general), str(out), "--general-lines", "10", "--task-repeats", "3"]
    args.append("--lowercase")
    assert adapt_text.main(args) == 0
    train = (out / "train.txt").read_text().splitlines()
    assert len(train) == 2 * 3 + 10
    assert train.count("a fine film .") == 3 and train.count("dull and long .") == 3
    sampled = [t for t in train if t.startswith("the line")]
    assert len(sampled) == 10 and all(t == t.lower() for t in sampled)
    assert len(set(sampled)) == 10
    assert (out / "heldout.txt").read_text().splitlines() == ["a dev text ."]
    assert "never" not in (out / "train.txt").read_text().lower()
    # Seeded: the same call writes the same text.
    adapt_text.main(args[:3] + [str(tmp_path / "again")] + args[4:])
    assert (tmp_path / "again" / "train.txt").read_text() == (out / "train.txt").read_text()


def test_adapt_text_keeps_case_and_reads_spacy_docs(tmp_path):
    import spacy
    from spacy.tokens import Doc, DocBin

    vocab = spacy.blank("en").vocab
    for split, words in (
        ("train", ["EU", "rejects", "German", "call"]),
        ("dev", ["Peter", "Blackburn"]),
    ):
        DocBin(docs=[Doc(vocab, words=words)]).to_disk(tmp_path / f"{split}.spacy")
    general = tmp_path / "general.txt"
    general.write_text("The First Line .\nThe Second Line .\n")
    out = tmp_path / "adapt"
    paths = [tmp_path / "train.spacy", tmp_path / "dev.spacy", general, out]
    assert adapt_text.main([str(p) for p in paths] + ["--task-repeats", "1"]) == 0
    train = (out / "train.txt").read_text().splitlines()
    assert sorted(train) == ["EU rejects German call", "The First Line .", "The Second Line ."]
    assert (out / "heldout.txt").read_text().splitlines() == ["Peter Blackburn"]
    # Several task files, joined by commas (e.g. some cross-validation folds).
    DocBin(docs=[Doc(vocab, words=["Oslo", "wins"])]).to_disk(tmp_path / "more.spacy")
    paths[0] = f"{tmp_path / 'train.spacy'},{tmp_path / 'more.spacy'}"
    paths[3] = tmp_path / "adapt2"
    assert adapt_text.main([str(p) for p in paths] + ["--task-repeats", "1"]) == 0
    train = (tmp_path / "adapt2" / "train.txt").read_text().splitlines()
    assert "EU rejects German call" in train and "Oslo wins" in train and len(train) == 4


def test_adapt_text_names_a_bad_line(tmp_path):
    from scripts.console import DataError

    data = tmp_path / "polarity"
    data.mkdir()
    (data / "train.jsonl").write_text('{"text": "ok"}\nnot json\n')
    _write_jsonl(data / "dev.jsonl", ["x"])
    task = [str(data / "train.jsonl"), str(data / "dev.jsonl")]
    general = tmp_path / "general.txt"
    general.write_text("Some text .\n")
    with pytest.raises(DataError, match="train.jsonl:2"):
        adapt_text.main(task + [str(general), str(tmp_path / "out")])
    _write_jsonl(data / "train.jsonl", ["ok"])
    with pytest.raises(DataError, match="missing.txt"):
        adapt_text.main(task + [str(tmp_path / "missing.txt"), str(tmp_path / "out")])
