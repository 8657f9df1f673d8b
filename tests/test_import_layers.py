"""The package's layers: each folder imports only the layers below it.

From the bottom: `errors`; `bilm/` (pure PyTorch); `io/` (files, references, the
numpy embedder); then, side by side, `pipeline/` (spaCy and thinc), `pretrain/` and
`demo`; `scale/` (Ray) beside them; on top `cli` and the package's `__init__`. Only
`scale/` imports Ray (the `ray` extra), and nothing imports `scale/` but the CLI.
"""

import ast
from pathlib import Path
from typing import Dict, List, Set

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "spacy_elmo"

# layer -> the spacy_elmo layers its modules may import (besides its own)
ALLOWED: Dict[str, Set[str]] = {
    "errors": set(),
    "bilm": {"errors"},
    "io": {"errors", "bilm"},
    "pipeline": {"errors", "bilm", "io"},
    "pretrain": {"errors", "bilm", "io"},
    "demo": {"errors", "bilm", "io"},
    "scale": {"errors", "bilm", "io"},
    "cli": {"errors", "bilm", "io", "pipeline", "pretrain", "demo", "scale"},
    "__init__": {"errors", "bilm", "io", "pipeline"},
    "__main__": {"cli"},
}
# third-party packages a layer must not import
FORBIDDEN_LIBRARIES: Dict[str, Set[str]] = {layer: {"ray"} for layer in ALLOWED if layer != "scale"}
FORBIDDEN_LIBRARIES["bilm"] |= {"spacy", "thinc", "h5py", "srsly", "requests"}
# io reads a saved pipeline's config.cfg with thinc's Config parser, nothing more
FORBIDDEN_LIBRARIES["io"] |= {"spacy"}
# single modules a layer must not import although their layer is allowed
FORBIDDEN_MODULES: Dict[str, Set[str]] = {
    # pretraining reads text through io.text, never through the exporter
    "pretrain": {"spacy_elmo.io.embed_file", "spacy_elmo.io.embedder"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imported_modules(path: Path) -> Set[str]:
    """Every module the file imports, at any depth, relative imports resolved."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # `from . import hub` imports a module, not a name
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def package_files():
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer():
    for path in package_files():
        assert layer_of(module_name(path)) in ALLOWED, path


def violations(module: str, imports: Set[str], existing: Set[str]) -> List[str]:
    """What in a module's imports breaks the layer rules."""
    layer = layer_of(module)
    found = []
    for target in sorted(imports):
        if target.split(".")[0] != "spacy_elmo" or target not in existing:
            continue  # another package, or a name imported from a module
        target_layer = layer_of(target)
        if target_layer == layer or target == "spacy_elmo":
            continue
        if target_layer not in ALLOWED[layer] or target in FORBIDDEN_MODULES.get(layer, set()):
            found.append(f"{module} ({layer}) imports {target}")
    libraries = {m.split(".")[0] for m in imports}
    for library in sorted(libraries & FORBIDDEN_LIBRARIES.get(layer, set())):
        found.append(f"{module} ({layer}) imports {library}")
    return found


EXISTING = {module_name(p) for p in package_files()}


@pytest.mark.parametrize("path", package_files(), ids=module_name)
def test_imports_point_down(path):
    assert violations(module_name(path), imported_modules(path), EXISTING) == []


def test_the_rules_catch_upward_imports():
    """The checker itself: upward, sideways and library imports are reported."""
    assert violations(
        "spacy_elmo.bilm.chars", {"spacy_elmo.pipeline.bilm_layer", "spacy"}, EXISTING
    ) == [
        "spacy_elmo.bilm.chars (bilm) imports spacy_elmo.pipeline.bilm_layer",
        "spacy_elmo.bilm.chars (bilm) imports spacy",
    ]
    assert violations("spacy_elmo.pretrain.corpus", {"spacy_elmo.io.embed_file"}, EXISTING)
    assert violations("spacy_elmo.pretrain.corpus", {"spacy_elmo.pipeline.component"}, EXISTING)
    assert violations("spacy_elmo.io.weights", {"spacy_elmo.cli"}, EXISTING)
    assert not violations("spacy_elmo.pipeline.bilm_layer", {"spacy_elmo.io.weights"}, EXISTING)


# What reads, writes or recognises one kind of biLM files; only io/formats.py (the
# seam) and the two modules that implement the kinds may use it.
FORMAT_SPECIFIC = (
    "is_model_dir",
    "read_model_dir",
    "write_model_dir",
    "load_weights_files",
    "save_weights_files",
    "bilm_from_bytes",
    "bilm_to_bytes",
    "model_files",
    "bilm_from_model_files",
)
FORMAT_MODULES = {"spacy_elmo.io.formats", "spacy_elmo.io.weights", "spacy_elmo.io.manylangs_files"}
# The package's public API re-exports the bilm-tf reader and writer.
FORMAT_EXPORTS = {"spacy_elmo"}


def format_specific_uses(path: Path) -> List[str]:
    """The format-specific names a module uses (as an attribute or imported name)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
        name = None
        if isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.alias):
            name = node.name
        if name in FORMAT_SPECIFIC:
            found.append(name)
    return sorted(set(found))


def test_biLM_formats_are_dispatched_in_one_module():
    """Which kind of biLM files something is, and how that kind is read or written,
    is asked of io/formats.py only."""
    users = {
        module_name(path): format_specific_uses(path)
        for path in package_files()
        if module_name(path) not in FORMAT_MODULES | FORMAT_EXPORTS
    }
    assert {module: names for module, names in users.items() if names} == {}
