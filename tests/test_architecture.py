"""The one-way data flow of docs/architecture.md, checked on the source with ast."""

import ast
import pathlib

PKG = pathlib.Path(__file__).resolve().parents[1] / "alphazero"

# Each module may import only modules to its left (and the leaves config and faults).
ORDER = ["game", "positions", "encoder", "net", "checkpoint", "mcts", "data", "selfplay",
         "cluster", "train", "arena", "pipeline", "play", "cli"]
LEAVES = {"config", "faults"}
NO_TORCH = {"config", "faults", "game", "positions", "encoder", "mcts", "data"}
NEVER = {"mcts": {"net", "checkpoint"}, "data": {"net", "checkpoint", "mcts"}}


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


def test_every_module_is_placed():
    present = {p.stem for p in PKG.glob("*.py")} - {"__init__", "__main__"}
    assert present <= set(ORDER) | LEAVES, present - set(ORDER)


def test_data_flows_one_way():
    for leaf in LEAVES:
        assert imports(leaf)[0] == set(), f"{leaf} is a leaf"
    for i, module in enumerate(ORDER):
        if not (PKG / f"{module}.py").exists():
            continue
        ours, theirs = imports(module)
        allowed = set(ORDER[:i]) | LEAVES | {""} | ({"__init__"} if module == "cli" else set())
        assert ours <= allowed | {"__version__"}, f"{module} imports {ours - allowed}"
        assert not ours & NEVER.get(module, set()), f"{module} imports {ours & NEVER[module]}"
        if module in NO_TORCH:
            assert "torch" not in theirs, f"{module} must not import torch"
    assert imports("game")[0] == set(), "game rules import nothing from the package"
