"""The shape of the code, checked: imports point down only (core <- adapters <- Jupyter layer
<- the package face), no import circle, a pure core, no module past ~400 lines, and every
signature that crosses a module boundary typed."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "agentnb"
MAX_LINES = 420
FRAMEWORKS = ("google", "livekit", "IPython", "ipykernel", "ipywidgets", "anywidget", "traitlets")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer(module: str) -> int:
    """0 core, 1 an adapter (adk_livekit: the one that composes the two), 2 the Jupyter layer,
    3 the package face and the tour."""
    part = module.split(".")[1] if "." in module else ""
    return {"core": 0, "adk": 1, "livekit": 1, "adk_livekit": 1, "jupyter": 2}.get(part, 3)


def imports_of(module: str) -> list[tuple[str, int]]:
    """(module imported, line) for every import in `module`, lazy ones included."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from . import codec` imports a module (its package is already there)
            modules = [f"{base}.{alias.name}" for alias in node.names
                       if f"{base}.{alias.name}" in MODULES]
            out += [(name, node.lineno) for name in modules]
            if len(modules) < len(node.names):
                out.append((base, node.lineno))
    return out


def own_imports(module: str) -> set[str]:
    return {name for name, _ in imports_of(module) if name in MODULES and name != module}


def test_the_walk_sees_every_layer():
    # A walk that found nothing would pass every check below.
    assert {layer(m) for m in MODULES} == {0, 1, 2, 3}
    assert "agentnb.core.records" in own_imports("agentnb.core.trace")
    assert "agentnb.core.codec" in own_imports("agentnb.core.recorded")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_only(module):
    upward = [(name, line) for name, line in imports_of(module)
              if name in MODULES and layer(name) > layer(module)]
    assert not upward, f"{module} imports a higher layer: {upward}"
    part = module.split(".")[1] if "." in module else ""
    if part in ("adk", "livekit"):
        # the two adapters know nothing of each other, nor of the bridge composing them
        other = {"adk": "livekit", "livekit": "adk"}[part]
        assert not [n for n in own_imports(module) if n.split(".")[1] in (other, "adk_livekit")]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer(m) == 0))
def test_the_core_imports_no_framework_and_no_front_end(module):
    foreign = [(name, line) for name, line in imports_of(module)
               if name.split(".")[0] in FRAMEWORKS]
    assert not foreign, f"{module} imports {foreign}"


def test_no_import_circle():
    graph = {m: own_imports(m) for m in MODULES}
    # A package's __init__ importing its own modules is not a circle back from them.
    done, path = set(), []

    def visit(node):
        if node in path:
            cycle = path[path.index(node):] + [node]
            if not all(a.startswith(b + ".") or b.startswith(a + ".") for a, b in zip(cycle, cycle[1:])):
                pytest.fail(f"import circle: {' -> '.join(cycle)}")
            return
        if node in done:
            return
        path.append(node)
        for nxt in sorted(graph[node]):
            visit(nxt)
        path.pop()
        done.add(node)

    for module in sorted(graph):
        visit(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_too_long(module):
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines"


def _untyped(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]
    missing = [a.arg for a in args if a.annotation is None and a.arg not in ("self", "cls")]
    missing += [f"*{a.arg}" for a in (fn.args.vararg, fn.args.kwarg) if a is not None and a.annotation is None]
    if fn.returns is None and fn.name != "__init__":
        missing.append("return")
    return missing


@pytest.mark.parametrize("module", sorted(MODULES))
def test_signatures_that_cross_a_module_boundary_are_typed(module):
    """Public functions and methods of public classes (no leading underscore), at any depth a
    caller from another module can reach."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    untyped = []

    def walk(body, public):
        for node in body:
            if isinstance(node, ast.ClassDef):
                walk(node.body, public and not node.name.startswith("_"))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and public:
                if not node.name.startswith("_") or node.name in ("__init__", "__getattr__"):
                    if missing := _untyped(node):
                        untyped.append(f"{node.name}: {', '.join(missing)}")
    walk(tree.body, True)
    assert not untyped, f"{module}: {untyped}"


def test_the_package_ships_its_type_information():
    assert (PACKAGE / "py.typed").exists()
