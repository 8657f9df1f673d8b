"""The final comparison's machinery: cross-validation folds and training
(scripts/cross_validate.py) and the summary with its tests (scripts/compare.py)."""

import json
from collections import Counter
from pathlib import Path

import pytest
import spacy
from scipy import stats

from scripts import compare, cross_validate, elmo_svm, folds

from .util import textcat_docs, write_corpus

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_folds_are_stratified_seeded_and_roles_disjoint():
    labels = ["POS"] * 53 + ["NEG"] * 47
    assigned = folds.assign_folds(labels, 10, seed=0)
    assert assigned == folds.assign_folds(labels, 10, seed=0)
    assert assigned != folds.assign_folds(labels, 10, seed=1)
    sizes = Counter(assigned)
    assert set(sizes) == set(range(10)) and max(sizes.values()) - min(sizes.values()) <= 1
    for f in range(10):
        pos = sum(1 for lab, g in zip(labels, assigned) if g == f and lab == "POS")
        assert pos in (5, 6)
    for f in range(10):
        roles = folds.fold_roles(f, 10)
        assert roles["test"] == [f] and roles["dev"] == [(f + 1) % 10]
        assert sorted(roles["train"] + roles["dev"] + roles["test"]) == list(range(10))
    with pytest.raises(ValueError, match="at least 3"):
        folds.assign_folds(labels, 2, seed=0)


def test_cross_validation_trains_and_scores_a_fold(tmp_path):
    nlp = spacy.blank("en")
    data = tmp_path / "data"
    data.mkdir()
    for split, n, seed in (("train", 24, 0), ("dev", 8, 1), ("test", 8, 2)):
        write_corpus(textcat_docs(nlp, n, seed=seed), data / f"{split}.spacy")
    metrics = tmp_path / "cv.json"
    args = [str(CONFIGS / "textcat_baseline.cfg"), str(tmp_path / "cv"), str(metrics)]
    args += ["--data", str(data), "--folds", "4", "--only", "1", "--threads", "1"]
    assert (
        cross_validate.main(args + ["--training.max_steps", "4", "--training.eval_frequency", "2"])
        == 0
    )
    result = json.loads(metrics.read_text())
    assert result["folds"] == 4 and [run["fold"] for run in result["runs"]] == [1]
    assert 0.0 <= result["runs"][0]["accuracy"] <= 1.0 and result["runs"][0]["n_docs"] == 10
    # Fold 1's test texts are fold 1; its dev texts fold 2; nothing is in two roles.
    texts = {}
    for split in ("train", "dev", "test"):
        db = spacy.tokens.DocBin().from_disk(tmp_path / "cv" / "folds" / "fold1" / f"{split}.spacy")
        texts[split] = [d.text for d in db.get_docs(nlp.vocab)]
    assert sum(map(len, texts.values())) == 40
    # scripts/folds.py writes the same folds on its own (for --folds-dir and for steps
    # that need a fold's texts, such as adapting a biLM on some folds).
    assert folds.main([str(data), str(tmp_path / "alone"), "--folds", "4"]) == 0
    db = spacy.tokens.DocBin().from_disk(tmp_path / "alone" / "fold1" / "test.spacy")
    assert [d.text for d in db.get_docs(nlp.vocab)] == texts["test"]
    assert (tmp_path / "cv" / "fold1" / "seed0" / "model-best").is_dir()
    # Another --only call (here with another override) adds its fold to the same file.
    more = [("3" if a == "1" and args[i - 1] == "--only" else a) for i, a in enumerate(args)]
    more += ["--training.max_steps", "4", "--training.eval_frequency", "2"]
    assert cross_validate.main(more + ["--training.dropout", "0.2"]) == 0
    result = json.loads(metrics.read_text())
    assert [run["fold"] for run in result["runs"]] == [1, 3]
    assert result["runs"][1]["overrides"]["training.dropout"] == 0.2
    assert result["summary"]["accuracy"]["n"] == 2


def test_svm_cross_validates_on_the_same_folds(tmp_path):
    """elmo_svm.py --folds: one SVM per fold of cross_validate.py's split, scored on
    that fold's texts, so its scores pair with the trained pipelines' fold by fold."""
    nlp = spacy.blank("en")
    data = tmp_path / "data"
    data.mkdir()
    docs = []
    for split, n, seed in (("train", 24, 0), ("dev", 8, 1), ("test", 8, 2)):
        part = textcat_docs(nlp, n, seed=seed)
        write_corpus(part, data / f"{split}.spacy")
        docs += part
    out = tmp_path / "svm.json"
    args = ["en-open-3m", str(data), str(out), "--folds", "4", "--fold-seed", "3"]
    assert elmo_svm.main(args + ["--threads", "1", "--seeds", "5"]) == 0
    result = json.loads(out.read_text())
    assert (result["folds"], result["fold_seed"], result["seed"]) == (4, 3, 5)
    labels = [max(d.cats, key=d.cats.get) for d in docs]
    sizes = Counter(folds.assign_folds(labels, 4, seed=3))
    assert [run["fold"] for run in result["runs"]] == [0, 1, 2, 3]
    assert [run["n_test"] for run in result["runs"]] == [sizes[f] for f in range(4)]
    for run in result["runs"]:
        assert 0.0 <= run["accuracy"] <= 1.0 and run["feature"] in elmo_svm.FEATURES
    assert elmo_svm.main(args + ["--threads", "1", "--seeds", "5", "--only", "1,3"]) == 0
    assert [run["fold"] for run in json.loads(out.read_text())["runs"]] == [1, 3]


def write(path: Path, runs: list, **extra) -> Path:
    path.write_text(json.dumps({"runs": runs, **extra}))
    return path


def test_summary_pairs_folds_and_tests_the_gain(tmp_path):
    base = [0.70, 0.72, 0.68, 0.71]
    elmo = [0.73, 0.74, 0.70, 0.75]
    tc_base = write(
        tmp_path / "b.json",
        [{"fold": i, "accuracy": a} for i, a in enumerate(base)],
        name="baseline",
        config="b.cfg",
    )
    tc_elmo = write(
        tmp_path / "e.json",
        [{"fold": i, "accuracy": a} for i, a in enumerate(elmo)],
        name="ELMo",
        config="e.cfg",
    )
    ner_base = write(
        tmp_path / "nb.json",
        [
            {"f": f, "per_type": {"PER": {"f": f + 0.1}, "ORG": {"f": f - 0.1}}, "config": "nb.cfg"}
            for f in (0.80, 0.81, 0.79)
        ],
        name="baseline",
        training_dir="training/nb",
    )
    ner_elmo = write(tmp_path / "ne.json", [{"f": 0.84}, {"f": 0.83}, {"f": 0.85}], name="ELMo")
    svm = [0.69, 0.73, 0.66, 0.71]
    tc_svm = write(
        tmp_path / "s.json", [{"fold": i, "accuracy": a} for i, a in enumerate(svm)], name="SVM"
    )
    out = tmp_path / "summary.json"
    args = [
        str(out),
        "--ner",
        str(ner_base),
        str(ner_elmo),
        "--textcat",
        str(tc_base),
        str(tc_elmo),
        "--textcat-svm",
        str(tc_svm),
    ]
    assert compare.main(args) == 0
    summary = json.loads(out.read_text())
    tc = summary["textcat"]
    assert tc["metric"] == "accuracy" and tc["baseline"]["config"] == "b.cfg"
    # NER files record the config per seed: the summary names it, not the training folder.
    assert summary["ner"]["baseline"]["config"] == "nb.cfg"
    assert tc["elmo"]["scores"] == pytest.approx([73.0, 74.0, 70.0, 75.0])
    assert tc["difference"]["per_fold"] == pytest.approx([3.0, 2.0, 2.0, 4.0])
    assert tc["difference"]["gain"] == pytest.approx(2.75)
    assert tc["difference"]["relative_error_reduction"] == pytest.approx(2.75 / (100 - 70.25))
    paired = stats.ttest_rel([73, 74, 70, 75], [70, 72, 68, 71]).pvalue
    assert tc["difference"]["p_value"] == pytest.approx(paired)
    # The classic path against the same baseline, paired by fold.
    assert tc["svm"]["scores"] == pytest.approx([69.0, 73.0, 66.0, 71.0])
    assert tc["svm_difference"]["per_fold"] == pytest.approx([-1.0, 1.0, -2.0, 0.0])
    paired_svm = stats.ttest_rel([69, 73, 66, 71], [70, 72, 68, 71]).pvalue
    assert tc["svm_difference"]["p_value"] == pytest.approx(paired_svm)
    assert tc["svm_difference"]["significant_at_0.05"] is False
    ner = summary["ner"]
    assert ner["baseline"]["per_type_f"] == pytest.approx({"ORG": 70.0, "PER": 90.0})
    assert "per_type_f" not in ner["elmo"]
    assert ner["metric"] == "ents_f" and ner["baseline"]["mean"] == pytest.approx(80.0)
    assert ner["baseline"]["std"] == pytest.approx(1.0)
    welch = stats.ttest_ind([84, 83, 85], [80, 81, 79], equal_var=False).pvalue
    assert ner["difference"]["p_value"] == pytest.approx(welch)
    assert ner["difference"]["significant_at_0.05"] is True
    # NER files without per-sentence counts (written before evaluate.py saved them) get
    # Welch's test alone; tests/test_paired_test.py covers the paired bootstrap.
    assert ner["difference"]["test"] == "Welch t-test over seeds"
    assert "seeds" not in ner["difference"]
    # Folds that differ cannot be paired.
    write(tc_elmo, [{"fold": i + 1, "accuracy": a} for i, a in enumerate(elmo)])
    with pytest.raises(ValueError, match="same folds"):
        compare.main([str(out), "--textcat", str(tc_base), str(tc_elmo)])
    with pytest.raises(SystemExit):
        compare.main([str(out), "--textcat-svm", str(tc_svm)])


def test_more_tasks_each_under_their_own_key(tmp_path):
    """--task NAME KIND adds a task scored as KIND; textcat seeds on one split (no
    folds) are not paired, so they get Welch's test, never a paired one."""
    ner_base = write(tmp_path / "nb.json", [{"f": f} for f in (0.80, 0.81, 0.79)], name="b")
    ner_elmo = write(tmp_path / "ne.json", [{"f": f} for f in (0.84, 0.83, 0.85)], name="e")
    tc_base = write(tmp_path / "tb.json", [{"accuracy": a} for a in (0.70, 0.72)], name="b")
    tc_elmo = write(tmp_path / "te.json", [{"accuracy": a} for a in (0.73, 0.78)], name="e")
    out = tmp_path / "summary.json"
    args = [str(out), "--ner", str(ner_base), str(ner_elmo)]
    args += ["--task", "zh_ner", "ner", str(ner_base), str(ner_elmo)]
    args += ["--task", "zh_sentiment", "textcat", str(tc_base), str(tc_elmo)]
    assert compare.main(args) == 0
    summary = json.loads(out.read_text())
    assert list(summary) == ["ner", "zh_ner", "zh_sentiment"]
    assert summary["zh_ner"] == summary["ner"]
    zh = summary["zh_sentiment"]
    assert zh["metric"] == "accuracy" and zh["difference"]["gain"] == pytest.approx(4.5)
    assert zh["difference"]["test"] == "Welch t-test over seeds"
    welch = stats.ttest_ind([73, 78], [70, 72], equal_var=False).pvalue
    assert zh["difference"]["p_value"] == pytest.approx(welch)
    for bad in (
        ["--task", "ner", "ner", str(ner_base), str(ner_elmo)],
        ["--task", "x", "pos", "a", "b"],
    ):
        with pytest.raises(SystemExit):
            compare.main([str(out), "--ner", str(ner_base), str(ner_elmo), *bad])
