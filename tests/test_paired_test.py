"""NER's paired significance test: the per-sentence counts scripts/evaluate.py saves,
the paired bootstrap over them (scripts/compare.py) and its line in the report."""

import json

import pytest
import spacy
from scipy import stats
from spacy.tokens import Span
from spacy.training import Example

from scripts import compare, evaluate, report, scoring

from .util import PEOPLE, PLACES, ner_docs, write_corpus


def sentence_file(gold, runs):
    """A per-sentence counts file's content: gold counts, and (tp, pred) per run."""
    return {"gold": gold, "runs": [{"tp": tp, "pred": pred} for tp, pred in runs]}


def corpus_f(gold, tp, pred):
    """Corpus F1 in percent from per-sentence counts."""
    return 200.0 * sum(tp) / (sum(pred) + sum(gold))


def test_sentence_counts_add_up_to_the_corpus_scores():
    """Correct, mislabelled, misplaced, missed and spurious entities, and a sentence
    with none: the counts sum to what spaCy's Scorer reports for the corpus."""
    nlp = spacy.blank("en")
    texts = [
        ("Alice met Bob in Paris .", [(0, 1, "PER"), (2, 3, "PER"), (4, 5, "LOC")]),
        ("Maria Lopez flew to New York .", [(0, 2, "PER"), (4, 6, "LOC")]),
        ("nothing to see here .", []),
        ("Olga left .", [(0, 1, "PER")]),
    ]
    predicted = [
        [(0, 1, "PER"), (2, 3, "LOC"), (4, 5, "LOC")],  # Bob mislabelled
        [(0, 1, "PER"), (4, 6, "LOC")],  # Maria Lopez cut short
        [(0, 1, "ORG")],  # spurious
        [],  # missed
    ]
    examples = []
    for (text, gold), pred in zip(texts, predicted):
        reference, guess = nlp.make_doc(text), nlp.make_doc(text)
        reference.ents = [Span(reference, s, e, label=lab) for s, e, lab in gold]
        guess.ents = [Span(guess, s, e, label=lab) for s, e, lab in pred]
        examples.append(Example(guess, reference))
    counts = scoring.ner_sentence_counts(examples)
    assert counts == {"tp": [2, 1, 0, 0], "pred": [3, 2, 1, 0], "gold": [3, 2, 0, 1]}
    scores = scoring.ner_scores(examples)
    tp, pred, gold = (sum(counts[k]) for k in ("tp", "pred", "gold"))
    assert scores["p"] == pytest.approx(tp / pred)
    assert scores["r"] == pytest.approx(tp / gold)
    assert 100 * scores["f"] == pytest.approx(
        corpus_f(counts["gold"], counts["tp"], counts["pred"])
    )


def test_identical_systems_are_not_significant():
    gold = [2, 1, 0, 3, 1, 2, 2, 1]
    runs = [
        ([1, 1, 0, 2, 0, 2, 1, 1], [2, 1, 1, 3, 1, 2, 2, 2]),
        ([2, 0, 0, 3, 1, 1, 1, 0], [2, 1, 0, 3, 2, 1, 2, 1]),
    ]
    counts = sentence_file(gold, runs)
    result = compare.paired_bootstrap(counts, counts, resamples=500)
    assert result["p_value"] == 1.0 and result["significant_at_0.05"] is False
    assert result["gain_interval_95"] == [0.0, 0.0]
    assert "paired" in result["test"] and "500 resamples" in result["test"]


def test_a_system_better_on_every_sentence_is_significant():
    """The other model finds every entity on every sentence, the baseline one fewer on
    each (one seed) or misses one in two (another seed): no resample favours it."""
    gold = [2, 1, 3, 2, 1, 2, 4, 1, 2, 3] * 3
    worse = [g - 1 for g in gold]
    half = [g - (i % 2) for i, g in enumerate(gold)]
    baseline = sentence_file(gold, [(worse, gold), (half, half)])
    better = sentence_file(gold, [(gold, gold)])
    result = compare.paired_bootstrap(baseline, better, resamples=2000, seed=3)
    assert result["p_value"] < 0.01 and result["significant_at_0.05"] is True
    low, high = result["gain_interval_95"]
    observed = (
        corpus_f(gold, gold, gold) - (corpus_f(gold, worse, gold) + corpus_f(gold, half, half)) / 2
    )
    assert 0 < low < observed < high
    # The other way round, the baseline is never better: p = 1.
    assert compare.paired_bootstrap(better, baseline, resamples=200)["p_value"] == 1.0
    # The same seed gives the same draws, so the same p and interval.
    assert compare.paired_bootstrap(baseline, better, resamples=2000, seed=3) == result


def test_a_noisy_gain_is_not_significant():
    """The two models trade sentences: each is right where the other is wrong, almost
    evenly, so about half the resamples favour either."""
    gold = [1] * 40
    a = [i % 2 for i in range(40)]
    b = [1 - x for x in a]
    b[1] = 1  # one sentence more for b
    result = compare.paired_bootstrap(
        sentence_file(gold, [(a, gold)]), sentence_file(gold, [(b, gold)]), resamples=2000
    )
    assert 0.2 < result["p_value"] < 0.6 and result["significant_at_0.05"] is False


def test_both_files_must_hold_the_same_sentences():
    counts = sentence_file([1, 2], [([1, 1], [1, 1])])
    with pytest.raises(ValueError, match="same test sentences"):
        compare.paired_bootstrap(counts, sentence_file([1, 2, 0], [([1, 1, 0], [1, 1, 0])]))
    with pytest.raises(ValueError, match="every test sentence"):
        compare.paired_bootstrap(counts, sentence_file([1, 2], [([1], [1])]))


def write_model(nlp, patterns, path):
    """A pipeline whose NER is an entity ruler: predictions known in advance."""
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": label, "pattern": text} for text, label in patterns])
    path.parent.mkdir(parents=True)
    nlp.to_disk(path)


def test_evaluate_saves_counts_and_compare_tests_them_paired(tmp_path):
    """evaluate.py writes each seed's per-sentence counts beside its result, summing to
    the seed's F1; compare.py then leads with the paired bootstrap and keeps Welch's
    t-test over the seeds, the gain and the error reduction."""
    test = tmp_path / "test.spacy"
    write_corpus(ner_docs(spacy.blank("en"), 30, seed=4), test)
    found = {  # each seed of each model knows some names, one of them under a wrong label
        ("baseline", 0): [(p, "PER") for p in PEOPLE[:3]] + [("Paris", "PER")],
        ("baseline", 1): [(p, "PER") for p in PEOPLE[2:5]] + [(c, "LOC") for c in PLACES[:2]],
        ("elmo", 0): [(p, "PER") for p in PEOPLE[:6]] + [(c, "LOC") for c in PLACES[:5]],
        ("elmo", 1): [(p, "PER") for p in PEOPLE[1:7]] + [(c, "LOC") for c in PLACES[2:8]],
    }
    for (name, seed), patterns in found.items():
        write_model(spacy.blank("en"), patterns, tmp_path / name / f"seed{seed}" / "model-best")
    metrics = tmp_path / "metrics"
    for name in ("baseline", "elmo"):
        args = ["ner", str(tmp_path / name), str(test), str(metrics / f"ner_{name}.json")]
        assert evaluate.main(args + ["--name", name]) == 0
    result = json.loads((metrics / "ner_elmo.json").read_text())
    assert result["sentences"] == "ner_elmo_sentences.json"
    assert all("per_sentence" not in run for run in result["runs"])
    counts = json.loads((metrics / "ner_elmo_sentences.json").read_text())
    assert len(counts["gold"]) == 30 and [run["seed"] for run in counts["runs"]] == [0, 1]
    for run, scored in zip(counts["runs"], result["runs"]):
        assert corpus_f(counts["gold"], run["tp"], run["pred"]) == pytest.approx(100 * scored["f"])

    out = tmp_path / "summary.json"
    ner_files = [str(metrics / "ner_baseline.json"), str(metrics / "ner_elmo.json")]
    assert compare.main([str(out), "--ner", *ner_files]) == 0
    ner = json.loads(out.read_text())["ner"]
    d = ner["difference"]
    assert "paired" in d["test"] and d["resamples"] == compare.RESAMPLES
    assert d["sentences"] == 30 and d["bootstrap_seed"] == compare.BOOTSTRAP_SEED
    gain = ner["elmo"]["mean"] - ner["baseline"]["mean"]
    assert gain > 0 and d["gain"] == pytest.approx(gain)
    assert d["relative_error_reduction"] == pytest.approx(gain / (100 - ner["baseline"]["mean"]))
    low, high = d["gain_interval_95"]
    assert low <= gain <= high
    welch = stats.ttest_ind(ner["elmo"]["scores"], ner["baseline"]["scores"], equal_var=False)
    assert d["seeds"]["test"] == "Welch t-test over seeds"
    assert d["seeds"]["p_value"] == pytest.approx(welch.pvalue)
    assert d["significant_at_0.05"] == (d["p_value"] < 0.05)

    lines = report.comparison_lines(json.loads(out.read_text()))
    row = next(line for line in lines if line.startswith("| ner (2 seeds)"))
    assert "paired bootstrap over 30 test sentences" in row and "Welch t-test over seeds" in row
    assert f"(`{ner['elmo']['config']}`)" in row  # which config each figure is from
    assert any(line.startswith("ner: p is a paired bootstrap") for line in lines)


def test_report_shows_a_p_value_below_the_resolution():
    assert report.p_text({"p_value": 0.0, "resamples": 10_000}) == "< 0.0001"
    assert report.p_text({"p_value": 0.0123}) == "0.012"
    assert report.p_text({"p_value": None}) == "–"
