"""The package's layers: data flows down, no module imports one above it, no import loops.

Every import counts, also those inside functions (the lazy ones), as they still tie the
modules together.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "tbwrite"

# Each group and its floor, bottom up. A module may import modules of lower floors and of
# its own group; never a higher floor, nor another group of its own floor.
FLOORS = {
    "_errors": 0,
    "_types": 0,
    "_tensorlike": 0,
    "_proto": 0,
    "_text": 0,
    "_threads": 0,
    "_format": 1,
    "_deferred": 1,
    "_checks": 2,
    "_sinks": 2,
    "_summaries": 3,
    "_lifecycle": 3,
    "_eventfile": 4,
    "_reading": 4,
    "_run": 5,
    "_writers": 6,
    "": 7,  # tbwrite/__init__.py: the public names
    "integrations": 8,
    "_cli": 8,
    "__main__": 9,
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(
    name: str, path: Path, modules: dict[str, Path], tree: ast.AST | None = None
) -> set[str]:
    is_package = path.name == "__init__.py"
    here = name.split(".") if name else []
    if not is_package:
        here = here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text()) if tree is None else tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)] if node.level > 1 else here
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            elif node.module and node.module.split(".")[0] == "tbwrite":
                target = node.module[len("tbwrite") + 1 :]
            else:
                continue
            subs = {f"{target}.{a.name}".strip(".") for a in node.names}
            found |= subs & modules.keys()
            if not subs <= modules.keys():
                found.add(target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("tbwrite."):
                    found.add(alias.name[len("tbwrite.") :])
    return {m for m in found if m != name and m in modules}


def _group(module: str) -> str:
    return module.split(".")[0]


def test_no_module_imports_one_above_it() -> None:
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        group = _group(name)
        for target in _imports(name, path, modules):
            other = _group(target)
            if other != group and FLOORS[other] >= FLOORS[group]:
                wrong.append(f"{name} -> {target}")
    assert not wrong, wrong


def test_no_import_loops() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    state: dict[str, int] = {}  # 1: on the path, 2: done
    loops = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                loops.append(trail[trail.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [name])
    assert not loops, loops


def test_every_group_has_a_floor() -> None:
    assert {_group(m) for m in _modules()} <= FLOORS.keys()


def _runtime_imports(path: Path, modules: dict[str, Path], name: str) -> set[str]:
    """``_imports`` without those under ``if TYPE_CHECKING:`` (types only, never run)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            node.body = [ast.Pass()]
    return _imports(name, path, modules, tree)


def test_integrations_use_the_public_surface() -> None:
    """The integrations are loops over public calls: no private module imported at run
    time (the underscore integration helpers excepted), no private attribute reached."""
    modules = _modules()
    found: dict[str, list[str]] = {}
    for name, path in modules.items():
        if _group(name) != "integrations":
            continue
        private = {
            target
            for target in _runtime_imports(path, modules, name)
            if _group(target) not in ("", "integrations")
        }
        if private:
            found[name] = sorted(private)
        reaches = [
            f"{name}:{node.lineno}: .{node.attr}"
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ]
        if reaches:
            found[name] = found.get(name, []) + reaches
    assert found == {}
