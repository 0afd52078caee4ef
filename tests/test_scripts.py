"""The scripts under scripts/ import only what the package has: every name they take from
``alphazero`` exists where they look for it (a moved or renamed module breaks this test, not
a benchmark months later)."""

import ast
import importlib
import pathlib

import pytest

SCRIPTS = sorted((pathlib.Path(__file__).resolve().parents[1] / "scripts").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_name_a_script_imports_exists(script):
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("alphazero"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name) or importlib.util.find_spec(
                    f"{node.module}.{alias.name}"), f"{script.name}: {node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("alphazero"):
                    importlib.import_module(alias.name)


def test_every_mutant_still_finds_its_line():
    """scripts/mutants.py breaks one line each: that line must still be in the package, once
    (a refactor that moves it leaves the suite unchecked there)."""
    import sys

    sys.path.insert(0, str(SCRIPTS[0].parent))
    from mutants import MUTANTS, ROOT

    for path, old, _, _ in MUTANTS:
        assert (pathlib.Path(ROOT) / path).read_text().count(old) == 1, (path, old)
