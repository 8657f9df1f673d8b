"""The classic ELMo path for text classification: fixed sentence vectors from the
`elmo` component (the mean of each biLM layer's token vectors) fed to a linear SVM.

    python -m scripts.elmo_svm training/bilm corpus/polarity metrics/textcat_svm.json \
        --seeds 0,1,2 --threads 2

Reads DATA_DIR/{train,dev,test}.spacy (Docs with exclusive `cats`). Each text runs
through `spacy.blank("en")` + `sentencizer` + `elmo` (layers="all"), so the biLM reads
it sentence by sentence, as in the trained pipelines. A text's vector is the mean over
its tokens of one of: the average of the layers, the top layer, or all layers
concatenated. Features are standardised on the training set. The feature kind and the
SVM's C are chosen on the dev set (accuracy); the chosen model is scored once on the
test set (accuracy and macro F1, as scripts/scoring.py computes them). One SVM per
seed (liblinear's coordinate descent visits the examples in a seeded random order).

With --folds K it cross-validates instead, on the folds scripts/folds.py makes for the
same --folds and --fold-seed (those of scripts/cross_validate.py; --only picks some):
all texts are embedded once, and for each fold k the SVM trains on the other folds but
k+1, is chosen on fold k+1 and scored on fold k (one run per fold, with the first of
--seeds), so its scores pair fold by fold with the trained pipelines'.
"""

import argparse
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from scripts.device import use_device
from scripts.folds import assign_folds, fold_roles
from scripts.scoring import summarize, textcat_scores, write_result

C_GRID = (0.001, 0.01, 0.1, 1.0)
FEATURES = ("average", "top", "concat")


def doc_features(layers: np.ndarray) -> Dict[str, np.ndarray]:
    """A text's vectors from its (n_layers, n_tokens, dim) layers."""
    per_layer = layers.astype(np.float32).mean(axis=1)  # (n_layers, dim)
    return {
        "average": per_layer.mean(axis=0),
        "top": per_layer[-1],
        "concat": per_layer.reshape(-1),
    }


def embed(nlp, paths: List[Path]) -> Tuple[Dict[str, np.ndarray], List[Dict[str, float]]]:
    from spacy.tokens import Doc, DocBin

    gold = [doc for path in paths for doc in DocBin().from_disk(path).get_docs(nlp.vocab)]
    inputs = [Doc(nlp.vocab, words=[t.text for t in d]) for d in gold]
    feats: Dict[str, List[np.ndarray]] = {k: [] for k in FEATURES}
    for doc in nlp.pipe(inputs, batch_size=64):
        for k, v in doc_features(doc._.elmo.layers).items():
            feats[k].append(v)
    return {k: np.stack(v) for k, v in feats.items()}, [d.cats for d in gold]


def label_ids(cats: List[Dict[str, float]], labels: List[str]) -> np.ndarray:
    """Each text's gold label (its highest cat) as an index into `labels`."""
    return np.array([labels.index(max(c, key=c.__getitem__)) for c in cats])


def fit_and_score(
    x: Dict[str, Dict[str, np.ndarray]], y: Dict[str, np.ndarray], labels: List[str], seed: int
) -> Dict[str, object]:
    """Choose the feature kind and C on dev, then score that SVM on test.

    x (Dict[str, Dict[str, np.ndarray]]): split -> feature kind -> (n_texts, dim).
    y (Dict[str, np.ndarray]): split -> label index per text.
    RETURNS (Dict[str, object]): the choice, its dev accuracy and the test scores.
    """
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    start = time.perf_counter()
    best = None
    for kind in FEATURES:
        scaler = StandardScaler().fit(x["train"][kind])
        scaled = {s: scaler.transform(x[s][kind]) for s in x}
        for c in C_GRID:
            svm = LinearSVC(C=c, random_state=seed, max_iter=20000).fit(scaled["train"], y["train"])
            dev_acc = float((svm.predict(scaled["dev"]) == y["dev"]).mean())
            if best is None or dev_acc > best[0]:
                best = (dev_acc, kind, c, svm.predict(scaled["test"]))
    assert best is not None
    dev_acc, kind, c, test_pred = best
    run: Dict[str, object] = {
        "seed": seed,
        "feature": kind,
        "C": c,
        "dev_accuracy": dev_acc,
        "train_wall_seconds": round(time.perf_counter() - start, 2),
    }
    gold = [{lab: float(i == g) for i, lab in enumerate(labels)} for g in y["test"]]
    pred = [{lab: float(i == p) for i, lab in enumerate(labels)} for p in test_pred]
    run.update(textcat_scores(gold, pred), n_test=len(gold))
    return run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", help="ELMo weights reference (directory, name, ...)")
    parser.add_argument("data_dir", type=Path, help="holds train/dev/test.spacy")
    parser.add_argument("output", type=Path, help="JSON file to write")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--folds", type=int, default=0, help="cross-validate on K folds")
    parser.add_argument("--fold-seed", type=int, default=0, help="seed of the fold split")
    parser.add_argument("--only", default=None, help="comma-separated folds to score (default all)")
    parser.add_argument("--threads", type=int, default=0, help="PyTorch CPU threads")
    parser.add_argument("--gpu-id", type=int, default=-1, help="GPU to embed on (-1: CPU)")
    parser.add_argument("--name", default="ELMo vectors + linear SVM")
    args = parser.parse_args(argv)
    use_device(args.threads, args.gpu_id)
    import spacy

    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("elmo", config={"weights": args.weights, "layers": "all", "vector_hooks": False})
    splits = ("train", "dev", "test")

    start = time.perf_counter()
    if args.folds:
        feats, cats = embed(nlp, [args.data_dir / f"{s}.spacy" for s in splits])
    else:
        data = {s: embed(nlp, [args.data_dir / f"{s}.spacy"]) for s in splits}
    embed_seconds = time.perf_counter() - start

    runs = []
    if args.folds:
        labels = sorted(cats[0])
        y_all = label_ids(cats, labels)
        folds = np.array(assign_folds([labels[i] for i in y_all], args.folds, args.fold_seed))
        chosen = range(args.folds) if args.only is None else [int(f) for f in args.only.split(",")]
        for f in chosen:
            roles = fold_roles(f, args.folds)
            members = {s: np.isin(folds, roles[s]) for s in splits}
            x = {s: {k: v[members[s]] for k, v in feats.items()} for s in splits}
            run = fit_and_score(x, {s: y_all[members[s]] for s in splits}, labels, seeds[0])
            run["fold"] = f
            runs.append(run)
            print(f"fold {f}: {run['feature']} C={run['C']} test accuracy {run['accuracy']:.4f}")
    else:
        labels = sorted(data["train"][1][0])
        x = {s: data[s][0] for s in splits}
        y = {s: label_ids(data[s][1], labels) for s in splits}
        for seed in seeds:
            run = fit_and_score(x, y, labels, seed)
            runs.append(run)
            print(
                f"seed {seed}: {run['feature']} C={run['C']} dev {run['dev_accuracy']:.4f} "
                f"test accuracy {run['accuracy']:.4f}"
            )

    summary = {m: summarize([r[m] for r in runs]) for m in ("accuracy", "macro_f")}
    summary["train_wall_seconds"] = summarize([r["train_wall_seconds"] for r in runs])
    out = {
        "task": "textcat",
        "name": args.name,
        "weights": str(args.weights),
        "test": f"{args.folds}-fold cross-validation of {args.data_dir}"
        if args.folds
        else str(args.data_dir / "test.spacy"),
        "embed_seconds": round(embed_seconds, 1),
        "summary": summary,
        "runs": runs,
    }
    if args.folds:
        out.update(folds=args.folds, fold_seed=args.fold_seed, seed=seeds[0])
    write_result(args.output, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
