"""The final comparison: ELMo against the baseline per task, with the noise in it.

    python -m scripts.compare metrics/summary.json \
        --ner metrics/ner_baseline.json metrics/ner_elmo.json \
        --textcat metrics/cv_textcat_baseline.json metrics/cv_textcat_elmo.json \
        --textcat-svm metrics/cv_textcat_svm.json

NER results are scripts/evaluate.py files (one run per training seed, scored on the
test set); textcat results are scripts/cross_validate.py files (one run per fold,
the same folds on both sides). The output, in percent:

    {"ner": {"metric": "ents_f", "baseline": {"config", "scores", "mean", "std"},
             "elmo": {...}, "difference": {...}},
     "textcat": {"metric": "accuracy", ...}}

`difference` holds the mean gain, the relative error reduction and a t-test: paired
by fold for textcat (the same texts on both sides), Welch's for NER seeds (unpaired).
With --textcat-svm (scripts/elmo_svm.py --folds, the same folds), textcat also gets
"svm" and "svm_difference": the classic path against the same baseline.
"""

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any, Dict, List

from scripts.scoring import write_result

METRICS = {"ner": ("ents_f", "f"), "textcat": ("accuracy", "accuracy")}


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


def compare(
    task: str, baseline_file: Path, other_file: Path, other: str = "elmo"
) -> Dict[str, Any]:
    """The baseline, the other model (key `other`) and their difference (key
    "difference", or "<other>_difference" for a model other than "elmo")."""
    metric, key = METRICS[task]
    results = [json.loads(Path(f).read_text(encoding="utf-8")) for f in (baseline_file, other_file)]
    baseline, model = (side(r, key) for r in results)
    diff_key = "difference" if other == "elmo" else f"{other}_difference"
    return {
        "metric": metric,
        "baseline": baseline,
        other: model,
        diff_key: difference(baseline, model, paired=task == "textcat"),
    }


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--ner", nargs=2, type=Path, metavar=("BASELINE", "ELMO"))
    parser.add_argument("--textcat", nargs=2, type=Path, metavar=("BASELINE", "ELMO"))
    parser.add_argument("--textcat-svm", type=Path, metavar="SVM", help="needs --textcat")
    args = parser.parse_args(argv)
    if args.textcat_svm and not args.textcat:
        parser.error("--textcat-svm compares with the baseline of --textcat: give both")
    summary = {}
    for task in ("ner", "textcat"):
        files = getattr(args, task)
        if files:
            summary[task] = compare(task, *files)
            d = summary[task]["difference"]
            print(f"{task}: gain {d['gain']:+.2f} points, p = {d['p_value']}")
    if args.textcat_svm:
        summary["textcat"].update(compare("textcat", args.textcat[0], args.textcat_svm, "svm"))
        d = summary["textcat"]["svm_difference"]
        print(f"textcat, ELMo vectors + SVM: gain {d['gain']:+.2f} points, p = {d['p_value']}")
    write_result(args.output, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
