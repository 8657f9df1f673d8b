"""The final comparison: ELMo against the baseline per task, with the noise in it.

    python -m scripts.compare metrics/summary.json \
        --ner metrics/ner_baseline.json metrics/ner_elmo.json \
        --textcat metrics/cv_textcat_baseline.json metrics/cv_textcat_elmo.json \
        --textcat-svm metrics/cv_textcat_svm.json \
        --task zh_ner ner metrics/zh_ner_baseline.json metrics/zh_ner_elmo.json

NER results are scripts/evaluate.py files (one run per training seed, scored on the
test set); textcat results are scripts/cross_validate.py files (one run per fold,
the same folds on both sides). The output, in percent:

    {"ner": {"metric": "ents_f", "baseline": {"config", "scores", "mean", "std"},
             "elmo": {...}, "difference": {...}},
     "textcat": {"metric": "accuracy", ...}}

`difference` holds the mean gain, the relative error reduction and a test: for textcat
a t-test paired by fold (the same texts on both sides); for NER a paired bootstrap over
the test sentences (`paired_bootstrap`, from the per-sentence counts scripts/evaluate.py
writes beside each NER file), with Welch's t-test over the seeds (unpaired: seed i of
one model has nothing in common with seed i of the other) kept under "seeds". NER files
written before the per-sentence counts existed get Welch's test alone.
With --textcat-svm (scripts/elmo_svm.py --folds, the same folds), textcat also gets
"svm" and "svm_difference": the classic path against the same baseline. Each --task
NAME KIND BASELINE ELMO adds one more task under the key NAME, scored as KIND (ner or
textcat); --ner and --textcat are the tasks "ner" and "textcat". Textcat results of
separately trained seeds on one split (scripts/evaluate.py, no folds) get Welch's test.
"""

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from scripts.scoring import write_result

METRICS = {"ner": ("ents_f", "f"), "textcat": ("accuracy", "accuracy")}
# The paired bootstrap: resamples of the test sentences, drawn from a fixed seed so
# the p-value is the same on every run; drawn in chunks to bound the memory.
RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
CHUNK = 250


def side(result: Dict[str, Any], key: str) -> Dict[str, Any]:
    """One model's scores (percent) from an evaluate or cross_validate file."""
    runs = result["runs"]
    raw = [run[key] for run in runs]
    # evaluate.py records each seed's config per run; cross_validate.py once per file.
    run_configs = {run["config"] for run in runs if run.get("config")}
    shared_config = run_configs.pop() if len(run_configs) == 1 else None
    out = {
        "name": result.get("name"),
        "config": result.get("config") or shared_config or result.get("training_dir"),
        "scores": [100.0 * x for x in raw],
        # Scaled after averaging, as the report does, so both round alike.
        "mean": 100.0 * statistics.fmean(raw),
        "std": 100.0 * statistics.stdev(raw) if len(raw) > 1 else 0.0,
        "folds": [run["fold"] for run in runs] if "fold" in runs[0] else None,
    }
    if all("per_type" in run for run in runs):
        # NER: each entity type's F1, mean over the runs.
        types = sorted(runs[0]["per_type"])
        out["per_type_f"] = {
            t: statistics.fmean(100.0 * run["per_type"][t]["f"] for run in runs) for t in types
        }
    return out


def difference(baseline: Dict[str, Any], elmo: Dict[str, Any], paired: bool) -> Dict[str, Any]:
    """Gain of ELMo over the baseline, its error reduction and its t-test."""
    from scipy import stats

    gain = elmo["mean"] - baseline["mean"]
    out: Dict[str, Any] = {
        "gain": gain,
        "relative_error_reduction": gain / (100.0 - baseline["mean"]),
        "test": "paired t-test over folds" if paired else "Welch t-test over seeds",
    }
    a, b = elmo["scores"], baseline["scores"]
    if paired:
        if elmo["folds"] != baseline["folds"]:
            raise ValueError("The two cross-validations must cover the same folds")
        diffs = [x - y for x, y in zip(a, b)]
        out["per_fold"] = diffs
        out["std"] = statistics.stdev(diffs) if len(diffs) > 1 else 0.0
        result = stats.ttest_rel(a, b) if len(a) > 1 else None
    else:
        result = stats.ttest_ind(a, b, equal_var=False) if min(len(a), len(b)) > 1 else None
    out["p_value"] = None if result is None else float(result.pvalue)
    out["significant_at_0.05"] = out["p_value"] is not None and out["p_value"] < 0.05
    return out


def mean_f(gold, tp, pred):
    """Corpus entity F1 (percent) of each run, averaged over the runs.

    gold (numpy.ndarray): gold entities, shape (...,): one total per resample.
    tp (numpy.ndarray): correct predictions, shape (..., runs).
    pred (numpy.ndarray): predictions, shape (..., runs).
    RETURNS (numpy.ndarray): the mean F1 over the runs, shape (...,).
    """
    import numpy as np

    total = pred + np.expand_dims(gold, -1)
    f = np.divide(2.0 * tp, total, out=np.zeros(total.shape), where=total > 0)
    return 100.0 * f.mean(axis=-1)


def paired_bootstrap(
    baseline: Dict[str, Any],
    other: Dict[str, Any],
    resamples: int = RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> Dict[str, Any]:
    """A paired bootstrap over the test sentences of the gain in seed-mean entity F1.

    Each resample draws as many sentences as the test set has, with replacement, and
    scores both models on the same draw: each seed's corpus F1 from its summed
    per-sentence counts, averaged over the model's seeds, so that on the whole test set
    the statistic is the reported gain (difference of the seed means). Every seed rides
    along with its sentence: the sentence is the unit resampled, and no seed of one
    model is paired with a seed of the other (none has anything in common with another
    model's seed, and the models may have different numbers). Pooling seed pairs as if
    they were separate sentences would count each sentence once per seed and understate
    the test set's noise. The seeds' own spread is not in this test: Welch's t-test over
    the seeds says how the training seed moves the gain.

    baseline (Dict[str, Any]): the baseline's per-sentence counts file (evaluate.py):
        "gold" per sentence, and "runs", each with "tp" and "pred" per sentence.
    other (Dict[str, Any]): the other model's, on the same test sentences.
    resamples (int): how many resamples.
    seed (int): seeds the draws.
    RETURNS (Dict[str, Any]): the test named, its one-sided p-value (the share of
        resamples where the other model's mean F1 is not above the baseline's), the
        95% percentile interval of the gain and the settings.
    """
    import numpy as np

    gold = np.asarray(baseline["gold"])
    n = len(gold)
    if list(other["gold"]) != list(baseline["gold"]):
        raise ValueError("The two per-sentence files must score the same test sentences")
    sides = []
    for counts in (baseline, other):
        tp, pred = (np.array([run[k] for run in counts["runs"]]).T for k in ("tp", "pred"))
        if tp.shape[0] != n or pred.shape[0] != n:
            raise ValueError("Each run must count every test sentence")
        sides.append((tp, pred))
    rng = np.random.default_rng(seed)
    gains = []
    for start in range(0, resamples, CHUNK):
        draw = rng.integers(0, n, size=(min(CHUNK, resamples - start), n))
        # How often each resample drew each sentence: its sums are weights @ counts.
        rows = np.arange(len(draw))[:, None]
        weights = np.bincount((draw + n * rows).ravel(), minlength=draw.size).reshape(draw.shape)
        base, model = (mean_f(weights @ gold, weights @ tp, weights @ pred) for tp, pred in sides)
        gains.append(model - base)
    gain = np.concatenate(gains)
    p_value = float(np.mean(gain <= 0))
    return {
        "test": (f"paired bootstrap over {n} test sentences, {resamples} resamples, seed {seed}"),
        "p_value": p_value,
        "significant_at_0.05": p_value < 0.05,
        "resamples": resamples,
        "bootstrap_seed": seed,
        "sentences": n,
        "gain_interval_95": [float(x) for x in np.percentile(gain, [2.5, 97.5])],
    }


def sentence_counts(result_file: Path, result: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The per-sentence counts file an NER result names (next to it), None if it names
    none (files written before evaluate.py saved them)."""
    if "sentences" not in result:
        return None
    path = Path(result_file).parent / result["sentences"]
    return json.loads(path.read_text(encoding="utf-8"))


def compare(
    task: str, baseline_file: Path, other_file: Path, other: str = "elmo"
) -> Dict[str, Any]:
    """The baseline, the other model (key `other`) and their difference (key
    "difference", or "<other>_difference" for a model other than "elmo")."""
    metric, key = METRICS[task]
    files = (baseline_file, other_file)
    results = [json.loads(Path(f).read_text(encoding="utf-8")) for f in files]
    baseline, model = (side(r, key) for r in results)
    paired = task == "textcat" and baseline["folds"] is not None
    diff = difference(baseline, model, paired=paired)
    counts = [sentence_counts(f, r) for f, r in zip(files, results)] if task == "ner" else []
    if counts and all(counts):
        # The paired test leads; the t-test over the seeds stays beside it.
        seeds = {k: diff.pop(k) for k in ("test", "p_value", "significant_at_0.05")}
        diff.update(paired_bootstrap(*counts))
        diff["seeds"] = seeds
    diff_key = "difference" if other == "elmo" else f"{other}_difference"
    return {"metric": metric, "baseline": baseline, other: model, diff_key: diff}


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--ner", nargs=2, type=Path, metavar=("BASELINE", "ELMO"))
    parser.add_argument("--textcat", nargs=2, type=Path, metavar=("BASELINE", "ELMO"))
    parser.add_argument("--textcat-svm", type=Path, metavar="SVM", help="needs --textcat")
    parser.add_argument(
        "--task",
        nargs=4,
        action="append",
        default=[],
        metavar=("NAME", "KIND", "BASELINE", "ELMO"),
        help="one more task: its key in the summary, ner or textcat, and the two files",
    )
    args = parser.parse_args(argv)
    if args.textcat_svm and not args.textcat:
        parser.error("--textcat-svm compares with the baseline of --textcat: give both")
    tasks = [(kind, kind, *getattr(args, kind)) for kind in METRICS if getattr(args, kind)]
    tasks += [tuple(task) for task in args.task]
    names = [name for name, *_ in tasks]
    for name, kind, *_ in tasks:
        if kind not in METRICS:
            parser.error(f"--task {name}: KIND must be ner or textcat, not {kind!r}")
        if names.count(name) > 1:
            parser.error(f"the task {name!r} is given twice")
    summary = {}
    for name, kind, baseline_file, elmo_file in tasks:
        summary[name] = compare(kind, Path(baseline_file), Path(elmo_file))
        d = summary[name]["difference"]
        print(f"{name}: gain {d['gain']:+.2f} points, p = {d['p_value']}")
    if args.textcat_svm:
        summary["textcat"].update(compare("textcat", args.textcat[0], args.textcat_svm, "svm"))
        d = summary["textcat"]["svm_difference"]
        print(f"textcat, ELMo vectors + SVM: gain {d['gain']:+.2f} points, p = {d['p_value']}")
    write_result(args.output, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
