"""The spaCy project (project.yml): its structure, the evaluation arithmetic, and the
whole smoke workflow run end to end on a copy of the project."""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import elmo_svm, scoring, training

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
TASKS = ("ner", "textcat")
REAL_TO_SMOKE = {
    "pretrain-release": "smoke-pretrain",
    "all-ner-baseline": "smoke-ner",
    "all-ner-elmo": "smoke-ner",
    "all-evaluate-ner": "smoke-ner",
    "all-cv-textcat-baseline": "smoke-textcat",
    "all-cv-textcat-elmo": "smoke-textcat",
    "all-cv-textcat-svm": "smoke-textcat",
    "all-speed": "smoke-speed",
    "train-ner-baseline": "smoke-ner",
    "train-ner-elmo": "smoke-ner",
    "evaluate-ner": "smoke-ner",
    "compare-ner-baseline": "smoke-ner",
    "compare-ner-elmo": "smoke-ner",
    "compare-evaluate-ner": "smoke-ner",
    "cv-textcat-baseline": "smoke-textcat",
    "cv-textcat-elmo": "smoke-textcat",
    "cv-textcat-svm": "smoke-textcat",
    "summary-all": "smoke-summary",
    "summary": "smoke-summary",
    "report-all": "smoke-report",
    "report": "smoke-report",
    "speed": "smoke-speed",
}


@pytest.fixture(scope="module")
def project():
    from weasel.util import load_project_config

    config = load_project_config(ROOT)
    return config, {c["name"]: c for c in config["commands"]}


def program_and_options(line: str):
    """('scripts.x configs/y.cfg', {'--a', '--b'}) of a script line: the program (a
    project step's module with its config or task argument, or a package's command),
    and its option names."""
    words = line.split()
    if words[2].startswith("scripts."):
        program = words[2:3] + [w for w in words[3:4] if w.endswith(".cfg") or w in TASKS]
    else:
        program = words[2:4]
    return " ".join(program), {w for w in words if w.startswith("--")}


def step_module_file(module: str) -> Path:
    """The file `python -m MODULE` runs for a project step: scripts/NAME.py, or
    scripts/NAME/__main__.py for a package."""
    path = ROOT.joinpath(*module.split("."))
    return path / "__main__.py" if path.is_dir() else path.with_suffix(".py")


def test_workflows_name_real_commands_in_dependency_order(project):
    """Every workflow step is a command, and every input a step needs is either in the
    repository or written by an earlier step of the same workflow."""
    config, commands = project
    expected = {"all", "compare", "ner", "textcat", "pretrain", "investigate", "smoke"}
    assert set(config["workflows"]) >= expected
    before = config["workflows"]["all"] + config["workflows"]["ner"]
    after_ner = {out for step in before for out in commands[step]["outputs"]}
    for name, steps in config["workflows"].items():
        # `investigate` asks questions about what `all` and `ner` made.
        produced = set(after_ner) if name == "investigate" else set()
        for step in steps:
            assert step in commands, f"workflow {name}: unknown command {step}"
            cmd = commands[step]
            for dep in cmd.get("deps", []):
                if (ROOT / dep).exists() and not dep.startswith(("corpus/", "training/")):
                    continue
                if name in ("ner", "textcat") and dep.startswith("training/bilm"):
                    continue  # these workflows use a biLM trained before (or published)
                assert any(dep == out or dep.startswith(out + "/") for out in produced), (
                    f"workflow {name}: {step} needs {dep}, which no earlier step writes"
                )
            produced.update(cmd.get("outputs", []))


def test_commands_name_existing_scripts_and_configs(project):
    """Every step runs a module (`python -m scripts.NAME`, `python -m spacy_elmo`) that
    exists, with configs that exist."""
    _, commands = project
    for cmd in commands.values():
        assert cmd.get("outputs"), f"{cmd['name']} has no outputs: reruns could not skip it"
        for line in cmd["script"]:
            words = line.split()
            assert words[:2] == ["python", "-m"], f"{cmd['name']}: `{line}` is not python -m"
            if words[2].startswith("scripts."):
                module = step_module_file(words[2])
                assert module.is_file(), f"{cmd['name']}: {words[2]} is not a module in scripts/"
            for word in words:
                if word.endswith((".py", ".cfg")):
                    assert (ROOT / word).is_file(), f"{cmd['name']}: {word} does not exist"


def test_scripts_never_edit_the_import_path():
    """scripts/ is a package run with `python -m` from the project root: no module in
    it adds folders to the import path or loads another by file name."""
    edits = ("sys.path", "PYTHONPATH", "spec_from_file_location", "addsitedir")
    files = [p for p in SCRIPTS.rglob("*") if p.is_file() and p.suffix in (".py", ".sh")]
    assert SCRIPTS / "__init__.py" in files
    found = [
        f"{path.relative_to(ROOT)}: {edit}"
        for path in files
        for edit in edits
        if edit in path.read_text(encoding="utf-8")
    ]
    assert not found, found


def test_smoke_steps_mirror_the_real_steps(project):
    """The smoke workflow calls the same scripts and configs with the same options as
    the real one (it may add some for the tiny sizes), so a real step cannot drift
    away from what the tests run."""
    _, commands = project
    for real, smoke in REAL_TO_SMOKE.items():
        smoke_lines = [program_and_options(line) for line in commands[smoke]["script"]]
        for line in commands[real]["script"]:
            program, options = program_and_options(line)
            # `compare --task` adds tasks the smoke data has none of (Chinese, a second
            # textcat set); tests/test_compare.py runs it.
            options -= {"--task"} if program == "scripts.compare" else set()
            matches = [opts for prog, opts in smoke_lines if prog == program]
            assert matches, f"{real}: `{program}` is not run by {smoke}"
            assert any(options <= opts for opts in matches), (
                f"{real}: {smoke} runs `{program}` without {options - matches[0]}"
            )


def test_published_weights_asset_is_the_small_model(project):
    """The optional asset fetches the files `spacy_elmo download small` would."""
    from spacy_elmo.io.hub import urls

    config, _ = project
    assets = {a["dest"]: a["url"] for a in config["assets"] if a.get("extra")}
    expected = {f"assets/elmo_small/{name}": url for name, url in urls("small").items()}
    assert assets == expected


def test_textcat_scores_by_hand():
    gold = [{"POS": 1.0, "NEG": 0.0}] * 3 + [{"POS": 0.0, "NEG": 1.0}] * 2
    pred = [
        {"POS": 0.9, "NEG": 0.1},
        {"POS": 0.8, "NEG": 0.2},
        {"POS": 0.3, "NEG": 0.7},  # a positive text called negative
        {"POS": 0.1, "NEG": 0.9},
        {"POS": 0.6, "NEG": 0.4},  # a negative text called positive
    ]
    scores = scoring.textcat_scores(gold, pred)
    assert scores["accuracy"] == pytest.approx(3 / 5)
    # POS: tp 2, fp 1, fn 1 -> F 2/3; NEG: tp 1, fp 1, fn 1 -> F 1/2
    assert scores["per_label"]["POS"]["f"] == pytest.approx(2 / 3)
    assert scores["per_label"]["NEG"]["f"] == pytest.approx(1 / 2)
    assert scores["macro_f"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    spread = scoring.summarize([0.8, 0.9, 1.0])
    assert spread["mean"] == pytest.approx(0.9) and spread["std"] == pytest.approx(0.1)
    assert (spread["min"], spread["max"], spread["n"]) == (0.8, 1.0, 3)


def test_svm_features_are_token_means():
    import numpy as np

    layers = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)  # 2 layers, 3 tokens
    feats = elmo_svm.doc_features(layers)
    np.testing.assert_allclose(feats["top"], layers[1].mean(axis=0))
    np.testing.assert_allclose(feats["average"], layers.mean(axis=(0, 1)))
    np.testing.assert_allclose(feats["concat"], layers.mean(axis=1).reshape(-1))


def test_train_fingerprint_follows_the_weights(tmp_path):
    """A seed is retrained when the biLM under the same path changes."""
    config = tmp_path / "x.cfg"
    config.write_text("[nlp]\n")
    bilm = tmp_path / "bilm"
    bilm.mkdir()
    (bilm / "options.json").write_text("{}")
    (bilm / "weights.hdf5").write_bytes(b"1" * 10)
    (bilm / "checkpoint.hdf5").write_bytes(b"c")
    overrides = {"paths.elmo_weights": str(bilm), "training.max_steps": 10}
    before = training.fingerprint(config, overrides)
    assert set(before) == {str(config), str(bilm / "options.json"), str(bilm / "weights.hdf5")}
    assert training.fingerprint(config, overrides) == before
    (bilm / "weights.hdf5").write_bytes(b"2" * 11)
    assert training.fingerprint(config, overrides) != before


@pytest.mark.slow
def test_smoke_workflow_end_to_end(tmp_path):
    """`spacy project run smoke` on a copy of the project: every step runs, the report
    has numbers, and a second run skips every step but the report."""
    for name in ("project.yml", "configs", "scripts", "assets/smoke"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, tmp_path / name)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    run = [sys.executable, "-m", "spacy", "project", "run", "smoke", str(tmp_path)]
    proc = subprocess.run(run, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]

    metrics = tmp_path / "metrics" / "smoke"
    report = (metrics / "report.md").read_text(encoding="utf-8")
    num = r"\d+\.\d\d"
    assert re.search(rf"\| baseline \| {num} \| {num} \| \*\*{num}\*\* \|", report), report
    assert re.search(rf"\| ELMo \| {num} \| {num} \| \*\*{num}\*\* \|", report), report
    assert re.search(rf"\| ELMo \| \*\*{num} ± {num} \({num}–{num}\)\*\* \|", report), report
    assert re.search(rf"\| ELMo vectors \+ linear SVM \| \*\*{num} ± {num}", report), report
    assert re.search(r"Held-out perplexity at step 60: forward [\d.]+", report), report
    base = r"baseline \(`configs/(textcat|ner)_baseline.cfg`\)"
    assert re.search(rf"\| textcat \(4 folds\) \| accuracy \| {base}: {num} ± {num} \|", report)
    assert re.search(rf"\| ner \(1 seed\) \| ents_f \| {base}: {num} ± {num} \|", report)
    assert "ELMo (`configs/textcat_fusion.cfg`)" in report  # the comparison names configs
    assert re.search(r"\| ner \| ELMo \| `configs/ner.cfg` \| [\d,]+ \| [\d,]+ \|", report), report
    speed = json.loads((metrics / "speed.json").read_text())
    assert [(r["task"], r["name"]) for r in speed["runs"]] == [
        ("ner", "baseline"),
        ("ner", "ELMo"),
        ("textcat", "baseline"),
        ("textcat", "ELMo"),
    ]
    assert all(r["train_steps"] == 4 and r["train_words"] > 0 for r in speed["runs"])
    for png in ("ner.png", "textcat.png", "pretrain_perplexity.png"):
        assert (metrics / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png

    # Every file the steps wrote has the mode an ordinary write gives under the umask.
    mask = os.umask(0)
    os.umask(mask)
    for root in ("corpus/smoke", "training/smoke", "metrics/smoke"):
        for path in (tmp_path / root).rglob("*"):
            if path.is_file():
                assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path

    ner = json.loads((metrics / "ner_elmo.json").read_text())
    assert set(ner["summary"]["per_type"]) == {"PER", "ORG", "LOC", "MISC"}
    assert ner["runs"][0]["n_docs"] == 15 and 0.0 <= ner["summary"]["f"]["mean"] <= 1.0
    for name in ("cv_textcat_baseline", "cv_textcat_elmo", "cv_textcat_svm"):
        res = json.loads((metrics / f"{name}.json").read_text())
        assert [r["fold"] for r in res["runs"]] == [0, 1, 2, 3], name
        assert all(0.0 <= r["accuracy"] <= 1.0 for r in res["runs"]), name
    for name in ("ner_baseline", "ner_elmo", "cv_textcat_baseline", "cv_textcat_elmo"):
        runs = list((tmp_path / "training" / "smoke" / name).glob("**/seed*/train.json"))
        assert runs and all(json.loads(f.read_text())["wall_seconds"] > 0 for f in runs), name
    summary = json.loads((metrics / "summary.json").read_text())
    assert summary["textcat"]["baseline"]["folds"] == [0, 1, 2, 3]
    assert len(summary["textcat"]["difference"]["per_fold"]) == 4
    assert summary["ner"]["metric"] == "ents_f" and len(summary["ner"]["elmo"]["scores"]) == 1

    # The corpus step dropped the -DOCSTART- markers: one Doc per sentence.
    import spacy
    from spacy.tokens import DocBin

    docs = list(
        DocBin()
        .from_disk(tmp_path / "corpus/smoke/conll/train.spacy")
        .get_docs(spacy.blank("en").vocab)
    )
    assert len(docs) == 48 and not any(d[0].text == "-DOCSTART-" for d in docs)

    again = subprocess.run(run, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout[-4000:]
    skipped = re.findall(r"Skipping '([\w-]+)': nothing changed", again.stdout)
    assert skipped == [
        "smoke-corpus",
        "smoke-pretrain",
        "smoke-ner",
        "smoke-textcat",
        "smoke-summary",
        "smoke-speed",
    ]
