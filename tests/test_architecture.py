"""The house's shape, read with ``ast`` from scanner/'s own source: imports never run in a circle,
never from a lower stage of the pipeline to a higher one, and are not hidden inside functions;
modules and functions stay short enough to read (400 lines; 60 lines of function body)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "scanner"

LAYERS = [
    ("core", ["scanner", "scanner.core"]),
    ("inputs", ["scanner.inputs"]),
    ("features", ["scanner.features"]),
    ("processing", ["scanner.processing"]),
    ("detector families", ["scanner.families"]),
    ("scoring", ["scanner.scoring"]),
    ("writers", ["scanner.writers"]),
    ("engines", ["scanner.engines"]),
    ("training", ["scanner.training"]),
    ("evaluation", ["scanner.evaluation"]),
    ("interface", ["scanner.demo", "scanner.cli", "scanner.__main__"]),
]
"""The pipeline's stages, lowest first: a module may import its own stage and those below it."""

OPTIONAL = {"ray"}
"""Third-party modules an extra installs: imported where they are used, inside functions."""

LAZY = {"scanner.cli"}
"""The command line (the package and its modules) loads a stage when its command runs, so that ``scanner --help`` and
``--version`` take 0.1 s instead of 2.8 s (torch, scikit-learn, scipy). Nothing imports the command
line, so these imports cannot hide a circle; the graph above reads them too."""

LONG_MODULES: set[str] = set()
"""Modules over 400 lines, each with its reason: none since 0.8.0 (the lists may only shrink)."""

LONG_FUNCTIONS: set[str] = set()
"""Functions whose body (after the docstring) is over 60 lines, each with its reason: none since 0.8.0."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, tuple[Path, ast.Module]]:
    return {module_name(p): (p, ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path, node: ast.ImportFrom | ast.Import, known: set[str]) -> list[str]:
    """The scanner modules an import statement of module ``name`` (file ``path``) reads."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in known]
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else [])) if node.level else node.module
    out = []
    for alias in node.names:
        full = f"{base}.{alias.name}"
        out.append(full if full in known else base)
    return [m for m in out if m in known]


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: {m for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                   for m in imported(name, path, node, known) if m != name}
            for name, (path, tree) in found.items()}


def layer(module: str) -> int:
    best = None
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[0]:
                    best = (len(prefix), rank)
    assert best is not None, f"{module} belongs to no stage of LAYERS"
    return best[1]


def test_every_module_has_a_stage():
    for module in modules():
        layer(module)


def test_no_import_runs_in_a_circle():
    edges = graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(u: str) -> None:
        state[u] = 1
        stack.append(u)
        for v in sorted(edges[u]):
            assert state.get(v) != 1, "import circle: " + " -> ".join(stack[stack.index(v):] + [v])
            if v not in state:
                visit(v)
        stack.pop()
        state[u] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)


def test_no_module_imports_a_later_stage():
    upward = [f"{a} ({LAYERS[layer(a)][0]}) imports {b} ({LAYERS[layer(b)][0]})"
              for a, targets in graph().items() for b in targets if layer(b) > layer(a)]
    assert not upward, upward


def test_no_import_is_hidden_inside_a_function():
    hidden = []
    for name, (path, tree) in modules().items():
        if any(name == lazy or name.startswith(lazy + ".") for lazy in LAZY):
            continue
        for function in ast.walk(tree):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(function):
                    if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("scanner")):
                        hidden.append(f"{name}.{function.name}: from {'.' * node.level}{node.module or ''}")
                    elif isinstance(node, ast.Import) and not {a.name.split('.')[0] for a in node.names} <= OPTIONAL:
                        hidden.append(f"{name}.{function.name}: import {', '.join(a.name for a in node.names)}")
    assert not hidden, hidden


def body_lines(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of a function's body after its docstring: a signature that declares options (a
    command's) or a docstring that explains is not logic to read."""
    body = function.body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        body = body[1:]
    return function.end_lineno - body[0].lineno + 1 if body else 0


def test_modules_and_functions_stay_short():
    """Modules over 400 lines and functions over 60 lines of body are exactly those listed: none
    may join the lists, and one that is split must leave them."""
    long_modules, long_functions = set(), set()
    for _, (path, tree) in modules().items():
        rel = str(path.relative_to(PACKAGE.parent))
        if len(path.read_text(encoding="utf-8").splitlines()) > 400:
            long_modules.add(rel)
        for holder in [tree] + [n for n in tree.body if isinstance(n, ast.ClassDef)]:
            for node in holder.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and body_lines(node) > 60:
                    prefix = "" if holder is tree else f"{holder.name}."
                    long_functions.add(f"{rel}:{prefix}{node.name}")
    assert long_modules == LONG_MODULES, sorted(long_modules ^ LONG_MODULES)
    assert long_functions == LONG_FUNCTIONS, sorted(long_functions ^ LONG_FUNCTIONS)


def test_every_package_is_installed():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 on
    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {module_name(p.parent / "__init__.py") for p in PACKAGE.rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)


def test_a_scan_never_imports_scikit_learn(tmp_path):
    """Scoring applies fitted heads with numpy; scikit-learn (0.7 s of start-up with scipy.stats)
    belongs to training (:mod:`scanner.families.head_fitting`). A scan of one image, in a fresh
    interpreter, leaves it out of ``sys.modules``."""
    import subprocess
    import sys

    import numpy as np
    from PIL import Image

    Image.fromarray(np.random.default_rng(0).integers(0, 256, (160, 160, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    probe = ("import sys; from typer.testing import CliRunner; from scanner.cli import app; "
             f"r = CliRunner().invoke(app, ['scan', {str(tmp_path / 'a.png')!r}, '--json', '--stride', '64']); "
             "assert r.exit_code in (0, 1), r.output; print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "[]"
