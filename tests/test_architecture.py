"""The one-way data flow of docs/architecture.md, checked on the source with ast.

The package is a stack of subpackages, one per layer. A module imports only from packages below
its own, or from modules of its own package in a lower row of that package's table. So the
file tree is the map: `alphazero/rules` never sees `alphazero/search`, the search never sees
the network, and the command line sits on top of everything.
"""

import ast
import pathlib

PKG = pathlib.Path(__file__).resolve().parents[1] / "alphazero"

# The packages, lowest first; inside each, its modules in rows, lowest first.
PACKAGES = {
    "core": [{"faults", "ratings", "compiled", "opponents"}, {"atomic"}, {"config"}],
    "report": [{"reporter", "lines", "reports"}, {"plots"}],
    "rules": [{"game"}, {"encoder", "solver"}, {"positions"}],
    "search": [{"tree", "exploration"}, {"cache"}, {"evaluators"}, {"roots", "kernels"}, {"mcts"}],
    "replay": [{"shards"}, {"dataset"}],
    "nn": [{"net", "calibration"}, {"checkpoint", "fused", "grow", "export", "average"}, {"inference"}],
    "stages": [{"selfplay", "train", "arena"}, {"workers", "breadth"}, {"cluster"}],
    "apps": [{"play", "analysis"}, {"serve"}],
    "run": [{"options", "status", "judge"}, {"pipeline", "evaluate"}, {"commands"}, {"cli"}],
}
ORDER = list(PACKAGES)
# The torch-free packages (and two torch-free modules above them): the rules, the search and
# the data format run where torch is not installed.
NO_TORCH_PACKAGES = {"core", "report", "rules", "search", "replay"}
NO_TORCH_MODULES = {"apps.analysis", "run.status"}
# The dataset never depends on how a search is run.
NEVER = {"replay.shards": {"search.mcts"}, "replay.dataset": {"search.mcts"}}
# What `alphazero/__init__.py` lends a user (lazily, so `import alphazero` stays cheap).
USER_NAMES = {"__version__"}


def modules() -> list[str]:
    """Every module of the package as "package.module"."""
    return sorted(f"{p.parent.name}.{p.stem}" for p in PKG.glob("*/*.py")
                  if p.stem != "__init__")


def imports(module: str) -> tuple[set[str], set[str]]:
    """("package.module"s of ours it imports, top-level third-party modules it imports)."""
    pkg, _ = module.split(".")
    tree = ast.parse((PKG / pkg / f"{module.split('.')[1]}.py").read_text())
    ours, theirs = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert not node.level, f"{module}: use absolute imports (alphazero.{pkg}....)"
            name = node.module or ""
            if name == "alphazero":
                ours.update(f"alphazero.{a.name}" for a in node.names)
            elif name.startswith("alphazero."):
                parts = name.split(".")[1:]
                if len(parts) == 2:
                    ours.add(".".join(parts))
                else:  # from alphazero.pkg import module
                    ours.update(f"{parts[0]}.{a.name}" for a in node.names)
            else:
                theirs.add(name.split(".")[0])
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("alphazero."):
                    ours.add(".".join(a.name.split(".")[1:3]))
                else:
                    theirs.add(a.name.split(".")[0])
    return ours, theirs


def rank(module: str) -> tuple[int, int]:
    """(package index, row inside the package) of "package.module"."""
    pkg, name = module.split(".")
    return ORDER.index(pkg), next(i for i, row in enumerate(PACKAGES[pkg]) if name in row)


def test_every_module_is_placed():
    placed = {f"{p}.{m}" for p, rows in PACKAGES.items() for row in rows for m in row}
    present = set(modules())
    assert present <= placed, present - placed
    assert {p.stem for p in PKG.glob("*.py")} == {"__init__", "__main__"}, \
        "modules live in the layer packages, not at the top"


def test_data_flows_one_way():
    for module in modules():
        ours, theirs = imports(module)
        top = {o for o in ours if o.startswith("alphazero.")}
        assert {o.split(".")[1] for o in top} <= USER_NAMES, f"{module} imports {top}"
        ours -= top
        pkg = ORDER.index(module.split(".")[0])
        for dep in ours:
            dep_pkg, dep_row = rank(dep)
            assert dep_pkg < pkg or (dep_pkg == pkg and dep_row < rank(module)[1]), \
                f"{module} imports {dep} (not below it)"
        assert not ours & NEVER.get(module, set()), f"{module} imports {ours & NEVER[module]}"
        if module.split(".")[0] in NO_TORCH_PACKAGES or module in NO_TORCH_MODULES:
            assert "torch" not in theirs, f"{module} must not import torch"
    assert imports("rules.game")[0] == set(), "game rules import nothing from the package"


def test_the_top_level_lends_names_lazily():
    import alphazero
    for name, module in alphazero.LENDS.items():
        assert rank(module)  # a placed module
        assert getattr(alphazero, name) is not None
    assert sorted(alphazero.__all__) == sorted([*alphazero.LENDS, "__version__"])


def test_every_function_reads_on_one_screen():
    """No function of the package is longer than 60 lines (argparse declarations
    included: one small function per subcommand)."""
    long = []
    for path in sorted(PKG.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > 60:
                    long.append(f"{path.name}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, long


def test_every_module_fits_in_a_sitting():
    """No module over 450 lines; the config module aside (one docstring per field)."""
    long = [f"{p.relative_to(PKG)} ({n} lines)" for p in sorted(PKG.rglob("*.py"))
            if (n := len(p.read_text().splitlines())) > 450 and p.stem != "config"]
    assert not long, long
