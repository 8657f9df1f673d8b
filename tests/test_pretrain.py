"""Pretraining parts: corpus, vocabulary, stream windows, softmax layers, objective,
checkpoints and config."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from spacy_elmo.bilm.softmax import AdaptiveSoftmax, FullSoftmax, SampledSoftmax, usable_cutoffs
from spacy_elmo.pretrain.batches import StreamBatcher
from spacy_elmo.pretrain.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from spacy_elmo.pretrain.config import default_config, load_config
from spacy_elmo.pretrain.corpus import TokenizedText, sentence_pipeline, tokenize_files
from spacy_elmo.pretrain.vocab import Vocabulary, unigram_log_probs, unigram_perplexity

from .pretrain_util import write_corpus


def make_text(sentences):
    index, ids, starts = {}, [], [0]
    for sent in sentences:
        ids.extend(index.setdefault(t, len(index)) for t in sent)
        starts.append(len(ids))
    return TokenizedText(list(index), np.array(ids, np.int32), np.array(starts, np.int64))


def words_of(batcher, type_ids):
    types = list(batcher.text.types) + ["<S>", "</S>"]
    return [types[t] for t in type_ids]


def test_tokenize_files_splits_sentences_and_skips_whitespace(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("Dogs bark.  Cats sleep all day.\n\n   \nOne more line here\n")
    text = tokenize_files([path], sentence_pipeline("blank:en"))
    sentences = [text.sentence(i) for i in range(text.n_sentences)]
    assert sentences == [
        ["Dogs", "bark", "."],
        ["Cats", "sleep", "all", "day", "."],
        ["One", "more", "line", "here"],
    ]
    text.to_disk(tmp_path / "c")
    again = TokenizedText.from_disk(tmp_path / "c")
    assert again.types == text.types and np.array_equal(again.ids, text.ids)


def test_tokenize_files_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine line\nbroken \xff byte\n")
    with pytest.raises(ValueError, match=r"bad.txt, line 2: not valid UTF-8"):
        tokenize_files([bad], sentence_pipeline("blank:en"))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    with pytest.raises(ValueError, match="No tokens in the input text"):
        tokenize_files([empty], sentence_pipeline("blank:en"))
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        tokenize_files([tmp_path / "missing.txt"], sentence_pipeline("blank:en"))


def test_vocabulary_is_frequency_sorted_with_specials_first(tmp_path):
    text = make_text([["b", "a", "a"], ["c", "a", "b"], ["d"]])
    vocab = Vocabulary.build(text, min_count=1, max_size=100)
    assert vocab.words == ["<S>", "</S>", "<UNK>", "a", "b", "c", "d"]
    assert Vocabulary.build(text, min_count=2, max_size=100).words[3:] == ["a", "b"]
    assert Vocabulary.build(text, min_count=1, max_size=4).words[3:] == ["a"]
    assert list(vocab.lookup(["a", "zzz", "</S>"])) == [3, 2, 1]
    vocab.to_disk(tmp_path / "vocab.txt")
    assert Vocabulary.from_disk(tmp_path / "vocab.txt").words == vocab.words
    with pytest.raises(ValueError, match="must start with"):
        Vocabulary(["a", "<S>", "</S>"])
    # A vocabulary saved by an editor that adds a byte-order mark reads the same.
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbf" + (tmp_path / "vocab.txt").read_bytes())
    assert Vocabulary.from_disk(tmp_path / "bom.txt").words == vocab.words


def test_run_folder_files_are_never_fifos(tmp_path):
    """The config and the progress log of a run are refused, not waited on, when a
    FIFO (or a directory) stands in their place."""
    import os

    from spacy_elmo.pretrain.output_dir import CONFIG_FILE, LOG_FILE, append_log, save_config

    os.mkfifo(tmp_path / LOG_FILE)
    with pytest.raises(ValueError, match="not a regular file"):
        append_log(tmp_path, {"step": 1})
    (tmp_path / CONFIG_FILE).mkdir()
    with pytest.raises(ValueError, match="not a regular file"):
        save_config(tmp_path, default_config())


def test_unigram_perplexity_matches_hand_count():
    text = make_text([["a", "a", "b"]])
    vocab = Vocabulary.build(text, min_count=1, max_size=10)
    log_probs = unigram_log_probs(vocab, text)
    # counts + 1: <S> 2, </S> 2, <UNK> 1, a 3, b 2 -> total 10
    assert np.allclose(np.exp(log_probs), [0.2, 0.2, 0.1, 0.3, 0.2])
    expected = math.exp(-(2 * math.log(0.3) + math.log(0.2) + math.log(0.2)) / 4)
    assert unigram_perplexity(log_probs, vocab, text) == pytest.approx(expected)


def test_stream_windows_hold_forward_and_backward_pairs():
    text = make_text([["a", "b", "c"], ["d", "e"]])
    vocab = Vocabulary.build(text, min_count=1, max_size=10)
    batcher = StreamBatcher(text, vocab, batch_size=1, unroll_steps=7, max_chars=50)
    window = batcher.eval_windows()[0]
    types = np.arange(len(window.chars))  # rows of the window's char table
    assert len(types) == len(np.unique(window.chars, axis=0))
    inputs, _ = batcher._streams_of(np.arange(2))
    forward, backward = inputs[0, 0], inputs[1, 0]
    assert words_of(batcher, forward) == ["<S>", "a", "b", "c", "<S>", "d", "e"]
    assert words_of(batcher, backward) == ["</S>", "c", "b", "a", "</S>", "e", "d"]
    targets = [vocab.words[i] for i in window.targets[0, 0]]
    assert targets == ["a", "b", "c", "</S>", "d", "e", "</S>"]
    targets = [vocab.words[i] for i in window.targets[1, 0]]
    assert targets == ["c", "b", "a", "<S>", "e", "d", "<S>"]


def test_epochs_shuffle_deterministically_and_rows_split():
    text = make_text([[f"w{i}", f"x{i}"] for i in range(40)])
    vocab = Vocabulary.build(text, min_count=1, max_size=1000)
    a = StreamBatcher(text, vocab, batch_size=4, unroll_steps=5, max_chars=50, seed=3)
    b = StreamBatcher(text, vocab, batch_size=4, unroll_steps=5, max_chars=50, seed=3)
    assert np.array_equal(a.window(1, 2).targets, b.window(1, 2).targets)
    assert not np.array_equal(a.window(0, 0).targets, a.window(1, 0).targets)
    half = StreamBatcher(
        text, vocab, batch_size=4, unroll_steps=5, max_chars=50, seed=3, rows=(2, 4)
    )
    assert np.array_equal(half.window(1, 2).targets, a.window(1, 2).targets[:, 2:4])
    with pytest.raises(ValueError, match="too few"):
        StreamBatcher(text, vocab, batch_size=64, unroll_steps=20, max_chars=50)


@pytest.mark.parametrize(
    "layer",
    [
        FullSoftmax(50, 8),
        SampledSoftmax(50, 8, n_samples=10),
        AdaptiveSoftmax(50, 8, (10, 30), div_value=2.0),
    ],
)
def test_log_likelihood_is_normalised(layer):
    torch.manual_seed(0)
    hidden = torch.randn(3, 8)
    with torch.no_grad():
        rows = [layer.log_likelihood(hidden, torch.full((3,), w)) for w in range(50)]
    total = torch.logsumexp(torch.stack(rows), dim=0)
    assert torch.allclose(total, torch.zeros(3), atol=1e-5)


def test_sampled_softmax_trains_on_samples_and_evaluates_exactly():
    torch.manual_seed(0)
    layer = SampledSoftmax(1000, 16, n_samples=64)
    hidden, targets = torch.randn(5, 16), torch.randint(0, 1000, (5,))
    samples = layer.sample(20000, torch.device("cpu"))
    # Log-uniform: word 0 is drawn about log(2)/log(1001) of the time.
    assert abs((samples == 0).float().mean().item() - math.log(2) / math.log(1001)) < 0.01
    layer.eval()
    full = FullSoftmax(1000, 16)
    full.load_state_dict(layer.state_dict())
    assert torch.allclose(layer.loss(hidden, targets), full.loss(hidden, targets))
    layer.train()
    loss = layer.loss(hidden, targets)
    loss.backward()
    assert torch.isfinite(loss) and layer.weight.grad is not None


def test_adaptive_cutoffs_fit_the_vocabulary():
    assert usable_cutoffs([4000, 20000], 100_000) == [4000, 20000]
    assert usable_cutoffs([4000, 20000], 5000) == [4000]
    assert usable_cutoffs([4000, 20000], 30) == [15]
    with pytest.raises(ValueError, match="must increase"):
        usable_cutoffs([200, 100], 1000)
    with pytest.raises(ValueError, match="leaves nothing"):
        AdaptiveSoftmax(1000, 8, (10, 100), div_value=4.0)


def test_checkpoint_round_trip_is_exact(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    optimizer = torch.optim.Adagrad(model.parameters(), lr=0.2, initial_accumulator_value=1.0)
    model(torch.randn(2, 4)).sum().backward()
    optimizer.step()
    state = (torch.randn(2, 2, 3, 4), torch.randn(2, 2, 3, 5))
    ckpt = Checkpoint(
        model.state_dict(), optimizer.state_dict(), state, torch.get_rng_state(), {"step": 7}
    )
    save_checkpoint(tmp_path / "c.hdf5", ckpt)
    loaded = load_checkpoint(tmp_path / "c.hdf5")
    assert loaded.progress == {"step": 7}
    assert all(torch.equal(loaded.model[k], v) for k, v in model.state_dict().items())
    assert torch.equal(loaded.lstm_state[1], state[1]) and torch.equal(loaded.rng, ckpt.rng)
    fresh = torch.optim.Adagrad(model.parameters(), lr=0.2)
    fresh.load_state_dict(loaded.optimizer)
    assert torch.equal(
        fresh.state_dict()["state"][0]["sum"], optimizer.state_dict()["state"][0]["sum"]
    )
    assert [p.name for p in tmp_path.iterdir()] == ["c.hdf5"]  # no temporary left behind
    (tmp_path / "bad.hdf5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="bad.hdf5 cannot be read"):
        load_checkpoint(tmp_path / "bad.hdf5")


def test_config_presets_overrides_and_errors(tmp_path):
    config = load_config(None, "small", {"training.max_steps": 5})
    assert config["model"]["dim"] == 1024 and config["model"]["projection_dim"] == 128
    assert config["training"]["max_steps"] == 5
    assert config["training"]["optimizer"] == "adagrad" and config["training"]["learn_rate"] == 0.2
    path = tmp_path / "p.cfg"
    default_config("tiny").to_disk(path)
    assert load_config(path, "cpu")["model"]["dim"] == 64
    with pytest.raises(ValueError, match="Unknown setting 'max_step'"):
        load_config(None, "cpu", {"training.max_step": 5})
    with pytest.raises(ValueError, match="Unknown section"):
        load_config(None, "cpu", {"trainin.max_steps": 5})
    with pytest.raises(ValueError, match=r"\[training\] batch_size must be a int"):
        load_config(None, "cpu", {"training.batch_size": "many"})
    with pytest.raises(ValueError, match="Unknown preset"):
        default_config("huge")


def test_training_learns_the_grammar(tmp_path):
    from spacy_elmo.pretrain.trainer import pretrain

    corpus = write_corpus(tmp_path / "text")
    overrides = {
        "paths.train": str(corpus / "train.txt"),
        "paths.heldout": str(corpus / "heldout.txt"),
        "training.batch_size": 8,
        "training.unroll_steps": 10,
        "training.max_steps": 150,
        "training.eval_every": 150,
        "training.checkpoint_every": 150,
        "vocab.min_count": 1,
    }
    lines = []
    pretrain(tmp_path / "out", load_config(None, "tiny", overrides), log=lines.append)
    unigram = float(next(line for line in lines if "Unigram" in line).split()[-1])
    final = [line for line in lines if line.startswith("held-out")][-1]
    average = float(final.split("average ")[1])
    assert average < unigram / 2, (unigram, final)
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {
        "options.json", "weights.hdf5", "vocab.txt", "softmax.hdf5", "config.cfg",
        "train_log.jsonl", "checkpoint.hdf5",
    }  # fmt: skip


def test_pretrained_directory_is_a_weights_reference(tmp_path):
    import spacy

    from spacy_elmo.pretrain.config import load_config as load
    from spacy_elmo.pretrain.trainer import pretrain

    corpus = write_corpus(tmp_path / "text", n_train=200, n_heldout=20)
    config = load(
        None,
        "tiny",
        {"paths.train": str(corpus / "train.txt"), "training.batch_size": 4,
         "training.max_steps": 3, "vocab.min_count": 1},
    )  # fmt: skip
    pretrain(tmp_path / "out", config, log=lambda _: None)
    nlp = spacy.blank("en")
    nlp.add_pipe("elmo", config={"weights": str(tmp_path / "out")})
    nlp.initialize()
    doc = nlp("The old cat sees a dog .")
    assert doc._.elmo.vectors.shape == (7, 32)
    assert Path(tmp_path / "out" / "vocab.txt").read_text().startswith("<S>\n</S>\n<UNK>\n")


def test_output_directory_rules(tmp_path):
    from spacy_elmo.pretrain.output_dir import check_output_dir, truncate_log

    config = load_config(None, "tiny")
    users = tmp_path / "published"
    users.mkdir()
    (users / "options.json").write_text("{}")
    (users / "weights.hdf5").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="options.json, weights.hdf5"):
        check_output_dir(users, config)
    # A run of ours killed before its first checkpoint: its files and temporaries.
    ours = tmp_path / "ours"
    ours.mkdir()
    for name in ("config.cfg", "options.json", "weights.hdf5", ".checkpoint.hdf5.ab12_x.tmp"):
        (ours / name).write_text("")
    (ours / ".notes.tmp").write_text("not ours")
    with pytest.raises(FileExistsError, match=r"\(.notes.tmp\)"):
        check_output_dir(ours, config)
    (ours / ".notes.tmp").unlink()
    check_output_dir(ours, config)
    assert not (ours / ".checkpoint.hdf5.ab12_x.tmp").exists()
    log = ours / "train_log.jsonl"
    log.write_text('{"step": 10}\n{"step": 20}\n{"step": 30}\n{"st')
    truncate_log(ours, 20)
    assert log.read_text() == '{"step": 10}\n{"step": 20}\n'


def test_heldout_sample_spans_the_whole_text():
    from spacy_elmo.pretrain.trainer import heldout_batcher

    text = make_text([[f"s{i}", "x", "y"] for i in range(100)])
    vocab = Vocabulary.build(text, min_count=1, max_size=1000)
    config = load_config(None, "tiny", {"training.max_eval_tokens": 60})
    sample = heldout_batcher(text, vocab, config).text
    firsts = [sample.sentence(i)[0] for i in range(sample.n_sentences)]
    assert firsts == [f"s{i}" for i in range(0, 100, 5)] and sample.n_tokens == 60
