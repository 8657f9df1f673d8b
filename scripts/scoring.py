"""Scoring trained models: NER and textcat scores, their spread over runs, a test set
scored from its words alone, and the JSON file of a task's scores. The evaluate,
cross_validate, elmo_svm, compare and speed steps all score through this module.
"""

import statistics
import time
from pathlib import Path
from typing import Any, Dict, List

from scripts.files import write_json


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
    """Entity-level P/R/F1, overall and per type, of predicted against gold Docs.

    examples (Iterable[Example]): each test text's prediction and gold annotation.
    RETURNS (Dict[str, Any]): p, r, f and per_type.
    """
    from spacy.scorer import Scorer

    scores = Scorer.score_spans(examples, "ents")
    return {
        "p": scores["ents_p"] or 0.0,
        "r": scores["ents_r"] or 0.0,
        "f": scores["ents_f"] or 0.0,
        "per_type": scores["ents_per_type"] or {},
    }


def ner_sentence_counts(examples) -> Dict[str, List[int]]:
    """Each test sentence's entity counts, the ones `ner_scores`' corpus P/R/F1 add up
    from: spans matched as `Scorer.score_spans` matches them (exact start, end and label).

    examples (Iterable[Example]): each test sentence's prediction and gold annotation.
    RETURNS (Dict[str, List[int]]): "tp" (predicted spans that are gold), "pred" and
        "gold" (entities predicted and annotated), one count per sentence.
    """
    counts: Dict[str, List[int]] = {"tp": [], "pred": [], "gold": []}
    for eg in examples:
        gold = {(span.label_, span.start, span.end) for span in eg.reference.ents}
        aligned = eg.get_aligned_spans_x2y(eg.predicted.ents, allow_overlap=False)
        pred = {(span.label_, span.start, span.end) for span in aligned}
        counts["tp"].append(len(gold & pred))
        counts["pred"].append(len(pred))
        counts["gold"].append(len(gold))
    return counts


def summarize(values: List[float]) -> Dict[str, float]:
    """The spread of a metric over runs: mean, sample std, min, max and n."""
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def write_result(path: Path, result: Dict[str, Any]) -> None:
    """Write a task's scores as the JSON file the report step reads."""
    write_json(path, result)
    print(f"wrote {path}")


def words_only(vocab, docs) -> list:
    """Fresh Docs with only the words and spaces of `docs`, so nothing of the gold
    annotation (entities, cats, sentence starts) can reach the pipeline."""
    from spacy.tokens import Doc

    return [
        Doc(vocab, words=[t.text for t in d], spaces=[bool(t.whitespace_) for t in d]) for d in docs
    ]


def evaluate_model(task: str, model_dir: Path, test_path: Path) -> Dict[str, Any]:
    """Score a trained pipeline on a test set from the words alone, timing `nlp.pipe`.

    task (str): "ner" or "textcat".
    model_dir (Path): the pipeline (a model-best folder).
    test_path (Path): the gold test Docs (.spacy).
    RETURNS (Dict[str, Any]): the scores, the counts and the words/s; for NER also
        "per_sentence", each test sentence's entity counts (`ner_sentence_counts`).
    """
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
        result["per_sentence"] = ner_sentence_counts(examples)
    else:
        result.update(textcat_scores([d.cats for d in gold_docs], [d.cats for d in predicted]))
    return result
