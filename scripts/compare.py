"""The final comparison: ELMo against the baseline per task, with the noise in it.

    python scripts/compare.py metrics/summary.json \
        --ner metrics/ner_baseline.json metrics/ner_elmo.json \
        --textcat metrics/cv_textcat_baseline.json metrics/cv_textcat_elmo.json

NER results are scripts/evaluate.py files (one run per training seed, scored on the
test set); textcat results are scripts/cross_validate.py files (one run per fold,
the same folds on both sides). The output, in percent:

    {"ner": {"metric": "ents_f", "baseline": {"config", "scores", "mean", "std"},
             "elmo": {...}, "difference": {...}},
     "textcat": {"metric": "accuracy", ...}}

`difference` holds the mean gain, the relative error reduction and a t-test: paired
by fold for textcat (the same texts on both sides), Welch's for NER seeds (unpaired).
"""

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any, Dict, List

METRICS = {"ner": ("ents_f", "f"), "textcat": ("accuracy", "accuracy")}


def side(result: Dict[str, Any], key: str) -> Dict[str, Any]:
    """One model's scores (percent) from an evaluate or cross_validate file."""
    runs = result["runs"]
    scores = [100.0 * run[key] for run in runs]
    return {
        "name": result.get("name"),
        "config": result.get("config") or result.get("training_dir"),
        "scores": scores,
        "mean": statistics.fmean(scores),
        "std": statistics.stdev(scores) if len(scores) > 1 else 0.0,
        "folds": [run["fold"] for run in runs] if "fold" in runs[0] else None,
    }


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


def compare(task: str, baseline_file: Path, elmo_file: Path) -> Dict[str, Any]:
    metric, key = METRICS[task]
    results = [json.loads(Path(f).read_text(encoding="utf-8")) for f in (baseline_file, elmo_file)]
    baseline, elmo = (side(r, key) for r in results)
    return {
        "metric": metric,
        "baseline": baseline,
        "elmo": elmo,
        "difference": difference(baseline, elmo, paired=task == "textcat"),
    }


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--ner", nargs=2, type=Path, metavar=("BASELINE", "ELMO"))
    parser.add_argument("--textcat", nargs=2, type=Path, metavar=("BASELINE", "ELMO"))
    args = parser.parse_args(argv)
    summary = {}
    for task in ("ner", "textcat"):
        files = getattr(args, task)
        if files:
            summary[task] = compare(task, *files)
            d = summary[task]["difference"]
            print(f"{task}: gain {d['gain']:+.2f} points, p = {d['p_value']}")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from evaluate import write_result

    write_result(args.output, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
