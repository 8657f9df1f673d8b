"""Every code block in README.md and docs/ runs as written.

Python blocks run page by page, in order, in one fresh interpreter per page, in a
folder where `path/to/model` is a small random-weight biLM, `path/to/zh-model` an
ELMoForManyLangs one (and the other paths the pages read exist). Config blocks parse
with spaCy's config parser, with no comment left inside a value and every
architecture registered. Shell commands name real commands and options (checked
against their `--help`), real project steps and real files.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest
import srsly
from thinc.api import Config

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def blocks(page: Path, language: str) -> List[Tuple[int, str]]:
    """(line number, code) of the page's fenced blocks in `language`."""
    text = page.read_text(encoding="utf8")
    return [
        (text[: m.start()].count("\n") + 1, m.group(2))
        for m in FENCE.finditer(text)
        if m.group(1) == language
    ]


def pages_with(language: str) -> List[Path]:
    return [page for page in PAGES if blocks(page, language)]


def test_the_pages_have_blocks_of_each_kind():
    """Guards the extraction itself: a broken pattern would test nothing."""
    assert len(pages_with("python")) >= 4
    assert len(pages_with("ini")) >= 2
    assert len(pages_with("bash")) >= 6


# Python ------------------------------------------------------------------------

RUNNER = """
import sys
for name, code in BLOCKS:
    try:
        exec(compile(code, name, "exec"), {"__name__": "__main__"} | NAMESPACE)
    except BaseException:
        print(f"FAILED: {name}", file=sys.stderr)
        raise
"""


def make_ner_pipeline(directory: Path) -> None:
    """A saved pipeline with `elmo` and `ner`, where training.md loads model-best."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("elmo", config={"weights": "path/to/model", "layers": "all"})
    ner = nlp.add_pipe("ner")
    ner.add_label("ORG")
    nlp.initialize()
    directory.parent.mkdir(parents=True)
    nlp.to_disk(directory)


@pytest.mark.parametrize("page", pages_with("python"), ids=lambda p: p.name)
def test_python_blocks_run(page, tmp_path, tiny_bilm, monkeypatch):
    from spacy_elmo import save_weights_files

    monkeypatch.chdir(tmp_path)
    save_weights_files(tiny_bilm, "path/to/model")
    if page.name == "training.md":
        make_ner_pipeline(tmp_path / "training" / "ner" / "model-best")
    if page.name == "languages.md":
        from .test_manylangs import write_reference_model

        write_reference_model(tmp_path / "path" / "to" / "zh-model", monkeypatch)
    named = [(f"{page.name}:{line}", code) for line, code in blocks(page, "python")]
    # A block may use what an earlier block of its page made (my_pipeline, say), so
    # each page runs as one script; the namespace is fresh for every block.
    script = f"BLOCKS = {named!r}\nNAMESPACE = {{}}\n" + RUNNER
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]


# Config ------------------------------------------------------------------------


def config_values(config: Dict) -> List[Tuple[str, object]]:
    found = []
    for key, value in config.items():
        if isinstance(value, dict):
            found.extend((f"{key}.{k}", v) for k, v in config_values(value))
        else:
            found.append((key, value))
    return found


def parse_excerpt(text: str) -> Config:
    """Parse a config excerpt: the parent sections it leaves out (`[components]` for
    `[components.elmo]`) are added empty, as they are in a whole config."""
    named = re.findall(r"^\[([^\]]+)\]", text, re.M)
    parents = {".".join(n.split(".")[:k]) for n in named for k in range(1, n.count(".") + 1)}
    missing = sorted(parents - set(named), key=lambda n: n.count("."))
    header = "".join(f"[{name}]\n" for name in missing)
    return Config().from_str(header + text, interpolate=False)


@pytest.mark.parametrize("page", pages_with("ini"), ids=lambda p: p.name)
def test_config_blocks_parse(page):
    from spacy.util import registry

    registry.ensure_populated()  # spaCy registers its own functions on first use

    for line, text in blocks(page, "ini"):
        config = parse_excerpt(text)
        for key, value in config_values(config):
            # spaCy's parser keeps a comment after a value as part of the value
            assert not (isinstance(value, str) and " #" in value), f"{page.name}:{line} {key}"
            if key.endswith("@architectures"):
                assert registry.architectures.get(value), f"{page.name}:{line}: {value}"
            if key.endswith("@callbacks"):
                assert registry.callbacks.get(value), f"{page.name}:{line}: {value}"


def test_config_parser_rejects_what_the_check_catches():
    config = parse_excerpt("[a.b]\nx = null   # a comment\n")
    assert [v for _, v in config_values(config) if " #" in str(v)]


def test_component_config_block_builds_the_component(tmp_path, tiny_bilm):
    """The `elmo` config block on the component page makes a working pipeline."""
    import spacy
    from spacy.util import load_model_from_config

    from spacy_elmo import save_weights_files

    save_weights_files(tiny_bilm, tmp_path / "model")
    (line, text), *_ = blocks(ROOT / "docs" / "component.md", "ini")
    base = spacy.blank("en").config
    config = base.merge(parse_excerpt(text))
    config["nlp"]["pipeline"] = ["elmo"]
    config["initialize"]["components"]["elmo"]["weights"] = str(tmp_path / "model")
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    nlp.initialize()
    assert nlp("The bank .")._.elmo.vectors.shape == (3, 16)


# Shell -------------------------------------------------------------------------


def shell_commands(page: Path) -> List[Tuple[int, List[str]]]:
    """Each command line of the page's shell blocks (continuations joined), as words,
    without comments; `&&`-joined commands come apart."""
    found = []
    for line, text in blocks(page, "bash"):
        joined = re.sub(r"\\\n\s*", " ", text)
        for k, row in enumerate(joined.splitlines()):
            words = shlex.split(row, comments=True)
            command: List[str] = []
            for word in words + ["&&"]:
                if word == "&&":
                    if command:
                        found.append((line + k, command))
                    command = []
                else:
                    command.append(word)
    return found


def flags(words: List[str]) -> Set[str]:
    """The options a command line uses, without `--section.key` config overrides."""
    return {w.split("=")[0] for w in words if w.startswith("--") and "." not in w}


_HELP: Dict[Tuple[str, ...], str] = {}


def help_text(command: Tuple[str, ...]) -> str:
    if command not in _HELP:
        result = subprocess.run(
            [sys.executable, *command, "--help"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "COLUMNS": "200"},
        )
        assert result.returncode == 0, f"{' '.join(command)} --help: {result.stderr[-500:]}"
        _HELP[command] = result.stdout
    return _HELP[command]


def project_steps() -> Set[str]:
    project = srsly.read_yaml(ROOT / "project.yml")
    return {c["name"] for c in project["commands"]} | set(project["workflows"])


@pytest.mark.parametrize("page", pages_with("bash"), ids=lambda p: p.name)
def test_shell_commands_exist(page):
    for line, words in shell_commands(page):
        where = f"{page.name}:{line}: {' '.join(words)}"
        head = words[:3]
        if head[:2] == ["python", "-m"] and head[2] in ("spacy_elmo", "pytest"):
            sub = (
                [w for w in words[3:4] if not w.startswith("-")] if head[2] == "spacy_elmo" else []
            )
            text = help_text(("-m", head[2], *sub))
            for flag in flags(words):
                assert flag in text, f"{where}: no option {flag}"
        elif words[:3] == ["python", "-m", "spacy"] and words[3:5] == ["project", "run"]:
            assert words[5] in project_steps(), f"{where}: no project step {words[5]}"
        elif words[:4] == ["python", "-m", "spacy", "train"]:
            assert (ROOT / words[4]).is_file(), f"{where}: no config {words[4]}"
        elif head[:2] == ["python", "-m"] and head[2].startswith("scripts."):
            text = help_text(("-m", head[2]))
            for flag in flags(words):
                assert flag in text, f"{where}: no option {flag}"
        elif words[0] == "python" and words[1].endswith(".py"):
            assert (ROOT / words[1]).is_file(), f"{where}: no script {words[1]}"
            text = help_text((words[1],))
            for flag in flags(words):
                assert flag in text, f"{where}: no option {flag}"


# What a command needs beyond a CPU and a few minutes, and the mark the page must give
# it in a comment on its line or just above it.
NETWORK_STEPS = {"corpus-ner", "corpus-textcat", "corpus-release", "all", "ner", "textcat"}
HOURS_STEPS = {"pretrain", "pretrain-release", "investigate"}
FETCHING_SCRIPTS = {
    "scripts.conll2003",
    "scripts.polarity",
    "scripts.uncertainty",
    "scripts.chinese",
    "scripts.pretrain_text",
}


def needs(words: List[str]) -> Set[str]:
    """The marks a command line needs: [network], [GPU], [hours]."""
    if "&&" in words:
        i = words.index("&&")
        return needs(words[:i]) | needs(words[i + 1 :])
    found = set()
    text = " ".join(words)
    if words[:2] == ["pip", "install"] or "download" in words[3:4] or "assets" in words[3:5]:
        found.add("[network]")
    if words[:5] == ["python", "-m", "spacy", "project", "run"]:
        step = words[5]
        if step in NETWORK_STEPS | HOURS_STEPS:
            found.add("[network]")
        if step in HOURS_STEPS:
            found.add("[hours]")
    if words[:2] == ["python", "-m"] and words[2:3] and words[2] in FETCHING_SCRIPTS:
        found.add("[network]")
    if words[:1] == ["torchrun"] or words[2:4] == ["spacy_elmo", "pretrain"]:
        steps = re.search(r"--training\.max_steps (\d+)", text)
        minutes = re.search(r"--training\.max_minutes (\d+)", text)
        short = (steps and int(steps.group(1)) < 1000) or (minutes and int(minutes.group(1)) < 60)
        if "--preset tiny" not in text and not short:
            found.add("[hours]")
    if re.search(r"--gpu-id [0-9]|--device (cuda|[0-9])|--system\.gpu_id [0-9]|nccl", text):
        found.add("[GPU]")
    return found


def commented_commands(page: Path) -> List[Tuple[int, List[str], str]]:
    """Each command of the page's shell blocks with the comments on its lines and on
    the comment lines just above it."""
    found = []
    for line, text in blocks(page, "bash"):
        above: List[str] = []
        rows = text.splitlines()
        k = 0
        while k < len(rows):
            start, parts = k, [rows[k]]
            while parts[-1].rstrip().endswith("\\") and k + 1 < len(rows):
                k += 1
                parts.append(rows[k])
            k += 1
            physical = "\n".join(parts)
            if physical.strip().startswith("#"):
                above.append(physical)
                continue
            if not physical.strip():
                above = []
                continue
            comments = " ".join(p.split("#", 1)[1] for p in parts if "#" in p)
            words = shlex.split(re.sub(r"\\\n\s*", " ", physical), comments=True)
            found.append((line + start, words, " ".join(above) + " " + comments))
            above = []
    return found


@pytest.mark.parametrize("page", pages_with("bash"), ids=lambda p: p.name)
def test_commands_that_need_network_gpu_or_hours_say_so(page):
    for line, words, comment in commented_commands(page):
        missing = {mark for mark in needs(words) if mark not in comment}
        assert not missing, f"{page.name}:{line}: {' '.join(words)} needs a comment with {missing}"


def test_marks_are_required_where_they_apply():
    assert needs("python -m spacy_elmo download small".split()) == {"[network]"}
    assert needs("python -m spacy project run pretrain".split()) == {"[network]", "[hours]"}
    assert needs("python -m spacy project run smoke".split()) == set()
    assert needs("python -m spacy_elmo pretrain out --preset tiny".split()) == set()
    assert needs("python -m spacy_elmo pretrain out --training.max_minutes 15".split()) == set()
    assert needs("python -m spacy_elmo pretrain out --training.max_minutes 240".split()) == {
        "[hours]"
    }
    assert needs("python3 -m venv .venv && pip install -e .".split()) == {"[network]"}
    assert needs("python bench/device_check.py --device cuda".split()) == {"[GPU]"}
    assert needs("python -m spacy train c.cfg --gpu-id 0".split()) == {"[GPU]"}
