"""Write the project's results: a markdown table and PNG plots.

    python -m scripts.report --out-dir metrics --bilm en-open-3m \
        --ner metrics/ner_baseline.json metrics/ner_elmo.json \
        --textcat metrics/textcat_baseline.json metrics/textcat_elmo.json \
                  metrics/textcat_svm.json

Reads the JSON files written by scripts/evaluate.py and scripts/elmo_svm.py (the first
file of each task is the baseline the others are compared with) and the biLM's
train_log.jsonl. Writes into --out-dir:

  report.md                 NER P/R/F1 overall and per type, textcat accuracy and
                            macro F1 (mean +- sample std over seeds, and range), wall
                            times, the biLM's pretraining summary
  ner.png, textcat.png      bar charts of the test scores (error bars: std over seeds)
  pretrain_perplexity.png   held-out and training perplexity of the biLM per step

With --speed (scripts/speed.py's JSON) the report also lists each final model's
training and `nlp.pipe` words/s, measured alone.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

NER_TYPES = ("PER", "ORG", "LOC", "MISC")
LABELS = {"p": "precision", "r": "recall", "f": "F1", "accuracy": "accuracy", "macro_f": "macro F1"}


def load(path: Path) -> Optional[Dict[str, Any]]:
    if not path.exists():
        print(f"[report] missing {path}: left out", file=sys.stderr)
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def pct(s: Dict[str, float], spread: bool = True) -> str:
    """'91.23 +- 0.40 (90.80-91.70)' in percent, or just the mean for one run."""
    text = f"{100 * s['mean']:.2f}"
    if spread and s.get("n", 1) > 1:
        text += f" ± {100 * s['std']:.2f} ({100 * s['min']:.2f}–{100 * s['max']:.2f})"
    return text


def duration(s: Optional[Dict[str, float]]) -> str:
    """Mean wall time: seconds under two minutes, else minutes."""
    if not s:
        return "–"
    seconds = s["mean"]
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def speed_lines(speed: Dict[str, Any]) -> List[str]:
    """The table of scripts/speed.py's figures, one row per model."""
    lines = [
        f"Each model measured alone on {speed['threads']} CPU threads by `scripts/speed.py`:",
        "training words/s over a fresh run's first steps with the config's own batcher",
        "(no evaluation), `nlp.pipe` words/s on the test texts. The train times in the",
        "tables above are the full runs' wall times, which may have shared the machine.",
        "",
        "| task | model | config | training words/s | `nlp.pipe` words/s |",
        "|---|---|---|---|---|",
    ]
    for run in speed["runs"]:
        lines.append(
            f"| {run['task']} | {run['name']} | `{run['config']}` | "
            f"{run['train_words_per_second']:,} | {run['pipe_words_per_second']:,} |"
        )
    return lines + [""]


def read_log(path: Path) -> Dict[str, Any]:
    """The pretraining log: training records, held-out evaluations, unigram baseline."""
    train, heldout, unigram = [], [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        if "unigram_heldout_perplexity" in rec:
            unigram = rec["unigram_heldout_perplexity"]
        elif "heldout" in rec:
            heldout.append((rec["step"], rec["heldout"]))
        elif "perplexity" in rec:
            train.append(rec)
    return {"train": train, "heldout": heldout, "unigram": unigram}


def setup_lines(results: List[Dict[str, Any]]) -> List[str]:
    """One line per model: its config and step budget (from the training records)."""
    lines = []
    for res in results:
        run = res["runs"][0]
        if run.get("config"):
            line = f"- {res['name']}: `{run['config']}`, {run.get('max_steps')} steps"
            overrides = run.get("overrides", {})
            if overrides.get("paths.elmo_weights"):
                line += f", biLM `{overrides['paths.elmo_weights']}`"
            line += "".join(
                f", `{key} = {value}`"
                for key, value in overrides.items()
                if key.startswith("components.")
            )
            lines.append(line)
        elif "feature" in run:
            lines.append(
                f"- {res['name']}: mean ELMo vectors of `{res.get('weights')}`, linear SVM"
            )
    return lines + [""] if lines else []


def ner_table(results: List[Dict[str, Any]]) -> List[str]:
    head = "| model | P | R | F1 | " + " | ".join(f"{t} F1" for t in NER_TYPES)
    head += " | seeds | train time | test words/s |"
    lines = [head, "|" + "---|" * (7 + len(NER_TYPES))]
    for res in results:
        s = res["summary"]
        per_type = [
            pct(s["per_type"][t]["f"], False) if t in s["per_type"] else "–" for t in NER_TYPES
        ]
        speed = words_per_second(res)
        lines.append(
            f"| {res['name']} | {pct(s['p'], False)} | {pct(s['r'], False)} | "
            f"**{pct(s['f'])}** | " + " | ".join(per_type) + f" | {s['f']['n']} | "
            f"{duration(s.get('train_wall_seconds'))} | {speed} |"
        )
    base = results[0]["summary"]["f"]["mean"]
    for res in results[1:]:
        gain = 100 * res["summary"]["f"]["mean"] - 100 * base
        lines.append("")
        lines.append(f"{res['name']} vs {results[0]['name']}: **{gain:+.2f} F1**.")
    return lines


def words_per_second(res: Dict[str, Any]) -> str:
    """Mean nlp.pipe words/s over the runs' test predictions, if measured."""
    wps = [r["words_per_second"] for r in res["runs"] if r.get("words_per_second")]
    return f"{sum(wps) / len(wps):,.0f}" if wps else "–"


def textcat_table(results: List[Dict[str, Any]]) -> List[str]:
    runs = "folds" if "folds" in results[0] else "seeds"
    lines = [
        f"| model | accuracy | macro F1 | {runs} | train time | test words/s |",
        "|---|---|---|---|---|---|",
    ]
    for res in results:
        s = res["summary"]
        lines.append(
            f"| {res['name']} | **{pct(s['accuracy'])}** | {pct(s['macro_f'])} | "
            f"{s['accuracy']['n']} | {duration(s.get('train_wall_seconds'))} | "
            f"{words_per_second(res)} |"
        )
    base = results[0]["summary"]["accuracy"]["mean"]
    lines.append("")
    for res in results[1:]:
        gain = 100 * res["summary"]["accuracy"]["mean"] - 100 * base
        lines.append(f"{res['name']} vs {results[0]['name']}: **{gain:+.2f} accuracy**.")
    return lines


def p_text(test: Dict[str, Any]) -> str:
    """A test's p-value as the table shows it: '–' if there is none, and for a
    bootstrap in which no resample went the other way, below one in its resamples."""
    if test["p_value"] is None:
        return "–"
    if test["p_value"] == 0 and test.get("resamples"):
        return f"< {1 / test['resamples']:.2g}"
    return f"{test['p_value']:.2g}"


def label(side: Dict[str, Any]) -> str:
    """A model's name in the comparison table, with the config it was trained with."""
    config = side.get("config")
    return f"{side['name']} (`{config}`)" if config else side["name"]


def comparison_lines(summary: Dict[str, Any]) -> List[str]:
    """The final comparison of metrics/summary.json (scripts/compare.py) as a table,
    with a note on each paired bootstrap in it."""
    lines = [
        "| task | metric | baseline | ELMo | gain | error reduction | p | beyond noise |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = []
    for task, result in summary.items():
        rows.append((task, "elmo", "difference"))
        if "svm" in result:
            rows.append((task, "svm", "svm_difference"))
    notes = []
    for task, key, diff_key in rows:
        t, d = summary[task], summary[task][diff_key]
        base, model = t["baseline"], t[key]
        n = len(base["scores"])
        runs = f"{n} {'fold' if base.get('folds') else 'seed'}{'s' if n != 1 else ''}"
        tests = f"{p_text(d)} ({d['test']})"
        if "seeds" in d:
            tests += f"; {p_text(d['seeds'])} ({d['seeds']['test']})"
        lines.append(
            f"| {task} ({runs}) | {t['metric']} | {label(base)}: "
            f"{base['mean']:.2f} ± {base['std']:.2f} | {label(model)}: {model['mean']:.2f} ± "
            f"{model['std']:.2f} | **{d['gain']:+.2f}** | "
            f"{100 * d['relative_error_reduction']:+.1f}% | {tests} | "
            f"{'yes' if d['significant_at_0.05'] else 'no'} |"
        )
        if "resamples" in d:
            low, high = d["gain_interval_95"]
            notes.append(
                f"{task}: p is a paired bootstrap over the {d['sentences']:,} test sentences: "
                f"{d['resamples']:,} resamples with replacement (seed {d['bootstrap_seed']}), "
                f"both models scored on each, each model's corpus F1 averaged over its "
                f"seeds; p is the share of resamples where {model['name']} is not above "
                f"{base['name']} (one-sided), and 95% of the resampled gains lie in "
                f"[{low:+.2f}, {high:+.2f}]. The t-test over the seeds beside it tests the "
                "spread the training seed adds; beyond noise follows the paired test."
            )
    return lines + [""] + [line for note in notes for line in (note, "")]


def bar_plot(results: List[Dict[str, Any]], metrics: List[str], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(2 + 0.9 * len(metrics) * len(results), 4))
    width = 0.8 / len(results)
    x = np.arange(len(metrics))
    lows = []
    for i, res in enumerate(results):
        s = res["summary"]
        means = [100 * s[m]["mean"] for m in metrics]
        stds = [100 * s[m]["std"] for m in metrics]
        lows += [m - 2 * sd for m, sd in zip(means, stds)]
        bars = ax.bar(x + (i - (len(results) - 1) / 2) * width, means, width, yerr=stds, capsize=3)
        bars.set_label(res["name"])
        for b, m in zip(bars, means):
            ax.annotate(
                f"{m:.1f}",
                (b.get_x() + b.get_width() / 2, m),
                ha="center",
                va="bottom",
                fontsize=7,
                xytext=(0, 2),
                textcoords="offset points",
            )
    ax.set_xticks(x)
    ax.set_xticklabels([LABELS.get(m, m) for m in metrics])
    ax.set_ylabel("test score (%)")
    ax.set_ylim(max(0.0, min(lows) - 5), 100)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=len(results))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def perplexity_plot(log: Dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    if log["train"]:
        ax.plot(
            [r["step"] for r in log["train"]],
            [r["perplexity"] for r in log["train"]],
            lw=0.8,
            alpha=0.6,
            label="training batches",
        )
    if log["heldout"]:
        steps = [s for s, _ in log["heldout"]]
        for key in ("forward", "backward", "average"):
            ax.plot(
                steps,
                [h[key] for _, h in log["heldout"]],
                marker="o" if key == "average" else None,
                ms=3,
                lw=1.5 if key == "average" else 0.8,
                label=f"held-out {key}",
            )
    if log["unigram"]:
        ax.axhline(log["unigram"], color="grey", ls="--", lw=0.8, label="unigram (held-out)")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("perplexity")
    ax.set_title("biLM pretraining")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def bilm_dir(ref: str) -> Optional[Path]:
    """The directory holding the weights of a reference, None if it resolves to none."""
    from spacy_elmo.errors import ElmoFormatError
    from spacy_elmo.io.references import resolve_weights

    try:
        return resolve_weights(ref).folder
    except ElmoFormatError:
        return None


def pretrain_lines(log: Dict[str, Any], name: str, bilm: Path) -> List[str]:
    lines = []
    options = bilm / "options.json"
    if options.exists():
        opts = json.loads(options.read_text(encoding="utf-8"))
        lstm = opts["lstm"]
        lines.append(
            f"biLM `{name}`: LSTM {lstm['dim']} / projection {lstm['projection_dim']}, "
            f"{lstm['n_layers']} layers, {sum(n for _, n in opts['char_cnn']['filters'])} "
            f"char filters, output width {2 * lstm['projection_dim']}."
        )
    if log["train"]:
        last = log["train"][-1]
        lines.append(
            f"Trained {last['step']:,} steps ({last.get('tokens', 0):,} tokens, "
            f"{last.get('elapsed', 0) / 60:.1f} min of training, resumed runs included)."
        )
    if log["heldout"]:
        step, h = log["heldout"][-1]
        lines.append(
            f"Held-out perplexity at step {step:,}: forward {h['forward']:.1f}, backward "
            f"{h['backward']:.1f}, average {h['average']:.1f}"
            + (f" (unigram model: {log['unigram']:.1f})." if log["unigram"] else ".")
        )
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=Path("metrics"))
    parser.add_argument("--ner", type=Path, nargs="*", default=[])
    parser.add_argument("--textcat", type=Path, nargs="*", default=[])
    parser.add_argument(
        "--bilm", default=None, help="the biLM: any weights reference (its train_log is plotted)"
    )
    parser.add_argument(
        "--summary", type=Path, default=None, help="scripts/compare.py's summary.json"
    )
    parser.add_argument("--speed", type=Path, default=None, help="scripts/speed.py's JSON")
    parser.add_argument("--title", default="spacy-elmo: ELMo against spaCy's best configs")
    args = parser.parse_args(argv)
    out: Path = args.out_dir
    out.mkdir(parents=True, exist_ok=True)

    md = [f"# {args.title}", ""]
    summary = load(args.summary) if args.summary is not None else None
    if summary:
        md += ["## The comparison", ""]
        md += ["Mean ± sample standard deviation, in percent; gain in points; the error"]
        md += ["reduction is the gain over the baseline's error (100 - its score).", ""]
        md += comparison_lines(summary)
    ner = [r for r in map(load, args.ner) if r]
    if ner:
        md += [f"## NER: CoNLL-2003 English, test set (`{ner[0]['test']}`)", ""]
        md += ["Model selected on the dev set; entity-level exact match, in percent.", ""]
        md += setup_lines(ner) + ner_table(ner) + ["", "![NER](ner.png)", ""]
        bar_plot(ner, ["p", "r", "f"], "NER (test)", out / "ner.png")
    textcat = [r for r in map(load, args.textcat) if r]
    if textcat:
        md += [f"## Text classification: sentence polarity (`{textcat[0]['test']}`)", ""]
        md += ["Mean ± sample standard deviation over the runs (range in brackets), in"]
        md += ["percent. Test words/s: `nlp.pipe` on the held-out texts.", ""]
        md += setup_lines(textcat) + textcat_table(textcat) + ["", "![textcat](textcat.png)", ""]
        bar_plot(textcat, ["accuracy", "macro_f"], "Sentence polarity (test)", out / "textcat.png")
    speed = load(args.speed) if args.speed is not None else None
    if speed:
        md += ["## Speed", ""] + speed_lines(speed)
    bilm = bilm_dir(args.bilm) if args.bilm is not None else None
    if bilm is not None and (bilm / "train_log.jsonl").exists():
        log = read_log(bilm / "train_log.jsonl")
        md += ["## biLM pretraining", ""] + pretrain_lines(log, args.bilm, bilm)
        md += ["", "![perplexity](pretrain_perplexity.png)", ""]
        perplexity_plot(log, out / "pretrain_perplexity.png")
    elif args.bilm is not None:
        md += [
            "## biLM",
            "",
            f"`{args.bilm}` (no train_log.jsonl: weights not pretrained here).",
            "",
        ]
    from spacy_elmo.io.atomic import atomic_path

    with atomic_path(out / "report.md") as tmp:
        tmp.write_text("\n".join(md), encoding="utf-8")
    print(f"wrote {out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
