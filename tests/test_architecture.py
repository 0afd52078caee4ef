"""The one-way data flow of docs/architecture.md, checked on the source with ast."""

import ast
import pathlib

PKG = pathlib.Path(__file__).resolve().parents[1] / "alphazero"

# A module imports only modules of LOWER layers (never its own layer or above).
LAYERS = [
    {"config", "faults", "report", "ratings", "compiled"},          # leaves
    {"game", "atomic"},                                             # rules; atomic writes
    {"positions", "encoder", "tree", "exploration", "shards", "solver",
     "cache", "plots"},                                             # facts over positions
    {"net", "roots", "dataset", "kernels", "evaluators"},
    {"checkpoint", "mcts", "fused", "grow", "export"},              # net and search, apart
    {"inference"},                                                  # the evaluator over a net
    {"selfplay", "train", "arena", "play", "analysis"},             # the stages
    {"cluster", "serve", "breadth", "status"},
    {"pipeline"},
    {"cli"},
]
# config may write its YAML atomically: the one exception to "leaves import nothing".
EXTRA = {"config": {"atomic"}}
NO_TORCH = {"config", "faults", "report", "ratings", "game", "atomic", "positions", "encoder",
            "tree", "exploration", "shards", "roots", "dataset", "mcts", "solver", "analysis",
            "evaluators", "kernels", "compiled", "cache", "plots", "status"}
NEVER = {m: {"net", "checkpoint", "inference"}
         for m in ("tree", "roots", "mcts", "exploration", "evaluators", "kernels", "cache")}
NEVER.update({"shards": {"net", "checkpoint", "mcts"}, "dataset": {"net", "checkpoint", "mcts"}})


def imports(module: str) -> tuple[set[str], set[str]]:
    """(package modules imported, top-level third-party modules imported)."""
    tree = ast.parse((PKG / f"{module}.py").read_text())
    ours, theirs = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                if node.module:
                    ours.add(node.module.split(".")[0])
                else:
                    ours.update(a.name for a in node.names)
            elif node.module:
                (ours if node.module.startswith("alphazero") else theirs).add(
                    node.module.split(".")[-1] if node.module.startswith("alphazero.")
                    else node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            for a in node.names:
                theirs.add(a.name.split(".")[0])
    return ours, theirs


def layer_of(module: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if module in layer)


def test_every_module_is_placed():
    present = {p.stem for p in PKG.glob("*.py")} - {"__init__", "__main__"}
    placed = set().union(*LAYERS)
    assert present <= placed, present - placed


def test_data_flows_one_way():
    for module in set().union(*LAYERS):
        if not (PKG / f"{module}.py").exists():
            continue
        ours, theirs = imports(module)
        ours -= {"__version__", "__init__"} if module == "cli" else set()
        lower = set().union(*LAYERS[:layer_of(module)]) | EXTRA.get(module, set())
        assert ours <= lower, f"{module} imports {ours - lower} (not below it)"
        assert not ours & NEVER.get(module, set()), f"{module} imports {ours & NEVER[module]}"
        if module in NO_TORCH:
            assert "torch" not in theirs, f"{module} must not import torch"
    assert imports("game")[0] == set(), "game rules import nothing from the package"


def test_every_function_reads_on_one_screen():
    """No function of the package is longer than 60 lines (argparse declarations
    included: one small function per subcommand)."""
    long = []
    for path in sorted(PKG.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > 60:
                    long.append(f"{path.name}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, long
