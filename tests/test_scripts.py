"""The scripts under scripts/ import only what the package has: every name they take from
``alphazero`` exists where they look for it (a moved or renamed module breaks this test, not
a benchmark months later); the scripts' own rules where a wrong answer would go unseen
(which net the judging script ships, the recipe curve's bands)."""

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


def test_every_mutant_still_finds_its_line(monkeypatch):
    """scripts/mutants.py breaks one line each: that line must still be in the package, once
    (a refactor that moves it leaves the suite unchecked there)."""
    monkeypatch.syspath_prepend(str(SCRIPTS[0].parent))
    from mutants import MUTANTS, ROOT

    for path, old, _, _ in MUTANTS:
        assert (pathlib.Path(ROOT) / path).read_text().count(old) == 1, (path, old)


def test_the_judging_rule_keeps_the_incumbent_unless_a_candidate_is_no_worse_and_better(
        monkeypatch):
    """scripts/judge_candidates.py: the best candidate wins every game moving first if any
    does, then has the broadest play, then the fewest c4 mistakes; it replaces the incumbent
    only when no worse on both counts and better on one (the recipe's continuation table:
    247 won all 100 but its breadth sum was 315 against iteration 230's 316)."""
    monkeypatch.syspath_prepend(str(SCRIPTS[0].parent))
    from judge_candidates import choose, shortlist

    def row(name, first, total, c4=70):
        return {"name": name, "first": first, "sum": total, "c4": c4}

    shipped = row("230", (92, 8, 0), 316)
    continuation = [row("247", (100, 0, 0), 315), row("249", (100, 0, 0), 315, 71),
                    row("263", (92, 8, 0), 325, 72), row("248", (93, 7, 0), 310, 72)]
    assert choose(shipped, continuation) is shipped
    assert choose(shipped, [row("tied", (92, 8, 0), 316, 60)]) is shipped
    assert choose(shipped, [row("broader", (93, 7, 0), 317)])["name"] == "broader"
    assert choose(shipped, [row("all", (100, 0, 0), 316, 75), row("broad", (92, 8, 0), 330)]
                  )["name"] == "all"
    assert choose(row("all", (100, 0, 0), 316), [row("broad", (92, 8, 0), 330)])["name"] == "all"
    assert choose(shipped, [row("a", (100, 0, 0), 320, 72), row("b", (100, 0, 0), 320, 71)]
                  )["name"] == "b"
    assert shortlist({"iter_0230": 70, "iter_0247": 70, "iter_0209": 68, "iter_0250": 80}, 3
                     ) == ["iter_0209", "iter_0247", "iter_0230"]


def test_recipe_curve_bands_span_the_seeds_where_all_were_measured(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPTS[0].parent))
    from recipe_curve import bands

    first = {"a": {9: 5.0, 18: 3.0, 29: 2.0}, "b": {9: 1.0}}
    second = {"a": {9: 7.0, 18: 2.0}, "b": {18: 4.0}}
    x_of = {9: 0.25, 18: 0.66, 29: 1.06}
    assert bands([first, second], x_of) == {"a": [(0.25, 5.0, 7.0), (0.66, 2.0, 3.0)]}


def test_recipe_curve_refuses_an_iteration_measured_twice(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(SCRIPTS[0].parent))
    from recipe_curve import evaluations

    (tmp_path / "iter_0066.json").write_text('report\n{"n": 1}\n')
    (tmp_path / "candidate_0230.json").write_text('{"n": 2}\n')
    assert evaluations(str(tmp_path)) == {66: {"n": 1}, 230: {"n": 2}}
    (tmp_path / "candidate_0066.json").write_text('{"n": 3}\n')
    with pytest.raises(SystemExit, match="iteration 66"):
        evaluations(str(tmp_path))
