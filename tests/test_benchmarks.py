"""benchmarks/: every script imports (so a library change cannot break one unseen), reads the
library through its public names only, and never edits sys.path."""

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p for p in (ROOT / "benchmarks").rglob("*.py") if p.name != "__init__.py")


def module_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


TOP = {"common.py", "regenerate.py"}
"""The two modules beside the kinds: what the held-out scripts share, and the one regeneration command."""


def test_scripts_sit_in_their_kind():
    kinds = {p.parent.name for p in SCRIPTS if p.name not in TOP}
    assert kinds == {"speed", "reports", "studies"}
    index = (ROOT / "benchmarks" / "README.md").read_text()
    missing = [p.name for p in SCRIPTS if f"`{p.name}`" not in index]
    assert not missing, f"not in benchmarks/README.md: {missing}"


def test_a_stamp_names_the_version_and_replaces_an_older_one(tmp_path):
    import scanner
    from benchmarks.regenerate import stamp

    page = tmp_path / "p.md"
    page.write_text("# Title\n\nbody\n")
    stamp(page, "python -m benchmarks.regenerate status")
    stamp(page, "python -m benchmarks.regenerate status")
    lines = page.read_text().splitlines()
    assert lines[0] == "# Title" and lines[3:] == ["", "body"]
    assert lines[2].startswith(f"_Regenerated with scanner {scanner.__version__} on ") and "regenerate status" in lines[2]


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_script_imports_and_uses_public_names_only(path):
    tree = ast.parse(path.read_text())
    private = [f"{node.module}.{alias.name}" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
               and (node.module or "").startswith("scanner") for alias in node.names if alias.name.startswith("_")]
    assert not private, private
    assert "sys.path" not in path.read_text()
    module = importlib.import_module(module_of(path))
    assert module.__doc__, f"{path.name} says what it measures in its docstring"
