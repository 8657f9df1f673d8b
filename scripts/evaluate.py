"""Evaluate trained pipelines (one per seed) on a held-out test set.

    python -m scripts.evaluate ner training/ner_elmo corpus/conll/test.spacy \
        metrics/ner_elmo.json --name "ELMo + spaCy features"
    python -m scripts.evaluate textcat training/textcat_elmo corpus/polarity/test.spacy \
        metrics/textcat_elmo.json --name "ELMo + spaCy features"

Reads `TRAINING_DIR/seed<N>/model-best` (the model selected on the dev set by
`scripts/train.py`) for each of --seeds (default: every seed there), predicts the test
Docs' annotations from their words alone and scores them against the gold ones:

- ner: precision, recall and F1 overall and per entity type (exact span and label
  match, spaCy's `Scorer`, the CoNLL-2003 measure);
- textcat: accuracy (the highest-scoring label is the gold one) and macro-averaged F1
  over the labels (each label's F1 with that label as the positive class).

Writes a JSON file with each seed's scores, training wall time (from train.json),
prediction speed, and per metric the mean, the sample standard deviation and the
range over the seeds.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Dict, List


def textcat_scores(gold: List[Dict[str, float]], pred: List[Dict[str, float]]) -> Dict[str, Any]:
    """Accuracy and macro F1 of exclusive-class predictions.

    gold (List[Dict[str, float]]): each text's gold cats (one label at 1.0).
    pred (List[Dict[str, float]]): each text's predicted scores.
    RETURNS (Dict[str, Any]): accuracy, macro_f, and per-label p/r/f.
    """
    labels = sorted({label for cats in gold for label in cats})
    g = [max(cats, key=cats.__getitem__) for cats in gold]
    p = [max(labels, key=lambda lab, c=cats: c.get(lab, 0.0)) for cats in pred]
    per_label: Dict[str, Dict[str, float]] = {}
    for lab in labels:
        tp = sum(1 for a, b in zip(g, p) if a == lab and b == lab)
        fp = sum(1 for a, b in zip(g, p) if a != lab and b == lab)
        fn = sum(1 for a, b in zip(g, p) if a == lab and b != lab)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per_label[lab] = {"p": prec, "r": rec, "f": f}
    accuracy = sum(1 for a, b in zip(g, p) if a == b) / len(g) if g else 0.0
    macro_f = statistics.fmean(v["f"] for v in per_label.values()) if per_label else 0.0
    return {"accuracy": accuracy, "macro_f": macro_f, "per_label": per_label}


def ner_scores(examples) -> Dict[str, Any]:
    from spacy.scorer import Scorer

    scores = Scorer.score_spans(examples, "ents")
    return {
        "p": scores["ents_p"] or 0.0,
        "r": scores["ents_r"] or 0.0,
        "f": scores["ents_f"] or 0.0,
        "per_type": scores["ents_per_type"] or {},
    }


def summarize(values: List[float]) -> Dict[str, float]:
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def write_result(path: Path, result: Dict[str, Any]) -> None:
    """Write a task's scores as the JSON file the report step reads."""
    from spacy_elmo.io.atomic import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")


def words_only(vocab, docs) -> list:
    """Fresh Docs with only the words and spaces of `docs`, so nothing of the gold
    annotation (entities, cats, sentence starts) can reach the pipeline."""
    from spacy.tokens import Doc

    return [
        Doc(vocab, words=[t.text for t in d], spaces=[bool(t.whitespace_) for t in d]) for d in docs
    ]


def evaluate_model(task: str, model_dir: Path, test_path: Path) -> Dict[str, Any]:
    import spacy
    from spacy.tokens import DocBin
    from spacy.training import Example

    nlp = spacy.load(model_dir)
    gold_docs = list(DocBin().from_disk(test_path).get_docs(nlp.vocab))
    inputs = words_only(nlp.vocab, gold_docs)
    n_words = sum(len(d) for d in inputs)
    start = time.perf_counter()
    predicted = list(nlp.pipe(inputs, batch_size=256))
    seconds = time.perf_counter() - start
    result: Dict[str, Any] = {
        "model": str(model_dir),
        "n_docs": len(gold_docs),
        "n_words": n_words,
        "predict_seconds": round(seconds, 2),
        "words_per_second": round(n_words / seconds) if seconds else None,
    }
    if task == "ner":
        examples = [Example(p, g) for p, g in zip(predicted, gold_docs)]
        result.update(ner_scores(examples))
    else:
        result.update(textcat_scores([d.cats for d in gold_docs], [d.cats for d in predicted]))
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=["ner", "textcat"])
    parser.add_argument("training_dir", type=Path, help="holds seed<N>/model-best")
    parser.add_argument("test", type=Path, help="test .spacy file")
    parser.add_argument("output", type=Path, help="JSON file to write")
    parser.add_argument("--name", default=None, help="row name in the report")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds (default: all)")
    parser.add_argument("--threads", type=int, default=0, help="PyTorch CPU threads")
    parser.add_argument("--gpu-id", type=int, default=-1, help="GPU to predict on (-1: CPU)")
    args = parser.parse_args(argv)
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    if args.gpu_id >= 0:
        import spacy

        spacy.require_gpu(args.gpu_id)

    if args.seeds is not None:
        seed_dirs = [args.training_dir / f"seed{int(s)}" for s in args.seeds.split(",") if s]
    else:
        seed_dirs = sorted(args.training_dir.glob("seed*"), key=lambda d: int(d.name[4:]))
    missing = [str(d) for d in seed_dirs if not (d / "model-best").exists()]
    if missing or not seed_dirs:
        print(f"ERROR: no model-best in {missing or args.training_dir}", file=sys.stderr)
        return 1
    runs = []
    for d in seed_dirs:
        run = evaluate_model(args.task, d / "model-best", args.test)
        run["seed"] = int(d.name[4:])
        record = d / "train.json"
        if record.exists():
            train = json.loads(record.read_text(encoding="utf-8"))
            run["train_wall_seconds"] = train.get("wall_seconds")
            run["config"] = train.get("config")
            run["max_steps"] = train.get("overrides", {}).get("training.max_steps")
            run["overrides"] = train.get("overrides", {})
            run["dev_scores"] = train.get("dev_scores", {})
        runs.append(run)
        main_metric = "f" if args.task == "ner" else "accuracy"
        print(f"{d}: {main_metric} {run[main_metric]:.4f} on {run['n_docs']} test docs")

    metrics = ["p", "r", "f"] if args.task == "ner" else ["accuracy", "macro_f"]
    summary = {m: summarize([r[m] for r in runs]) for m in metrics}
    walls = [r["train_wall_seconds"] for r in runs if r.get("train_wall_seconds") is not None]
    if walls:
        summary["train_wall_seconds"] = summarize(walls)
    if args.task == "ner":
        types = sorted({t for r in runs for t in r["per_type"]})
        summary["per_type"] = {
            t: {m: summarize([r["per_type"].get(t, {}).get(m, 0.0) for r in runs]) for m in "prf"}
            for t in types
        }
    out = {
        "task": args.task,
        "name": args.name or args.training_dir.name,
        "training_dir": str(args.training_dir),
        "test": str(args.test),
        "summary": summary,
        "runs": runs,
    }
    write_result(args.output, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
