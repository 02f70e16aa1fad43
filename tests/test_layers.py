"""The packages stand on each other in one direction: every import, function-local ones included, points down.

    morl_cli                      the command line (the console script)
    agents    leaderboards        side by side: neither imports the other
    morl_envs
    reward_models
    morl_core                     shared contracts and utilities

A "module:attribute" entry-point string inside a package (a registry entry resolved on first use) counts as an
import of that module. Function-local imports are allowed only where ``docs/extending.md`` lists them (optional
extras and deliberately lazy heavy loads), so a new one is a decision, not a dodge around a cycle.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: package -> layer; a package may import only packages of a strictly lower layer (and itself)
LAYERS = {"morl_core": 0, "reward_models": 1, "morl_envs": 2, "agents": 3, "leaderboards": 3, "morl_cli": 4}
ENTRY_POINT = re.compile(r"([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*):[A-Za-z_][A-Za-z0-9_]*")


def _imports(tree: ast.AST) -> list[tuple[int, str, bool, bool]]:
    """(line, imported module, inside a function, is an import statement) of every import statement and
    entry-point string of a module."""
    found: list[tuple[int, str, bool, bool]] = []

    def visit(node: ast.AST, local: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((child.lineno, alias.name, inner, True) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append((child.lineno, child.module, inner, True))
            elif isinstance(child, ast.Constant) and isinstance(child.value, str):
                match = ENTRY_POINT.fullmatch(child.value)
                if match and match.group(1).split(".")[0] in LAYERS:
                    found.append((child.lineno, match.group(1), inner, False))
            visit(child, inner)

    visit(tree, False)
    return found


def _modules() -> list[tuple[str, Path]]:
    return [(package, path) for package in LAYERS for path in sorted((ROOT / package).rglob("*.py"))]


def _is_type_checking_block(tree: ast.AST, line: int) -> bool:
    """True when ``line`` lies in an ``if TYPE_CHECKING:`` block (annotations only, never executed)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            if node.lineno <= line <= max(getattr(n, "end_lineno", node.lineno) for n in node.body):
                return True
    return False


def upward_imports() -> list[str]:
    """Every import that points up or sideways between packages, as "path:line: a -> b"."""
    bad = []
    for package, path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, module, _, _ in _imports(tree):
            target = module.split(".")[0]
            if target in LAYERS and target != package and LAYERS[target] >= LAYERS[package]:
                if not _is_type_checking_block(tree, line):
                    bad.append(f"{path.relative_to(ROOT)}:{line}: {package} -> {module}")
    return bad


def local_imports() -> set[tuple[str, str]]:
    """(module path, imported module) of every function-local import statement in the packages."""
    found = set()
    for _, path in _modules():
        for _, module, local, statement in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if local and statement:
                found.add((str(path.relative_to(ROOT)), module))
    return found


def documented_local_imports() -> set[tuple[str, str]]:
    """The function-local imports listed in docs/extending.md: rows "| `path` | `module` | why |"."""
    text = (ROOT / "docs" / "extending.md").read_text(encoding="utf-8")
    section = text.split("## Function-local imports", 1)[1]
    return set(re.findall(r"^\| `([^`]+\.py)` \| `([^`]+)` \|", section, flags=re.M))


def test_every_import_points_down_the_layers():
    assert upward_imports() == []


def test_function_local_imports_are_the_documented_ones():
    actual, documented = local_imports(), documented_local_imports()
    assert sorted(actual - documented) == [], "function-local imports not listed in docs/extending.md"
    assert sorted(documented - actual) == [], "docs/extending.md lists function-local imports that are gone"


@pytest.mark.parametrize("source, expected", [
    ("import agents\n", ["morl_envs -> agents"]),
    ("def f():\n    from leaderboards.board import table\n", ["morl_envs -> leaderboards.board"]),
    ("REGISTRY = {'x': 'morl_cli.main:main'}\n", ["morl_envs -> morl_cli.main"]),
    ("import reward_models\nfrom morl_core.errors import MorlError\n", []),
])
def test_the_check_catches_upward_imports(tmp_path, monkeypatch, source, expected):
    """The check can fail: a module of morl_envs importing upward (at the top, in a function, or through an entry
    point string) is reported; imports down the layers are not."""
    for package in LAYERS:
        (tmp_path / package).mkdir()
    (tmp_path / "morl_envs" / "probe.py").write_text(source)
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    assert [line.split(": ", 1)[1] for line in upward_imports()] == expected
