"""Guards that keep the house in order: imports flow one way, no cycles, no giant files.

The import graph is read with the standard library's `ast`, so it sees every import, including
the lazy ones inside functions: a lazy import still ties two modules together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("bot", "handlers", "storage", "schedules")
MAX_LINES = 600


def product_files() -> dict[str, Path]:
    """Module name → file, for every product module."""
    found: dict[str, Path] = {}
    for top in PRODUCT:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, modules: set[str]) -> set[str]:
    """The product modules that `name` imports (a `from pkg import sub` counts as `pkg.sub`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.append(sub if sub in modules else base)
        for target in targets:
            # the nearest product module that is the target or contains it
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def external_imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module)
    return out


FILES = product_files()
MODULES = set(FILES)
GRAPH = {name: imports_of(name, path, MODULES) for name, path in FILES.items()}


def within(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def without_package_edges(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's `__init__` re-exporting its own submodules is not a cycle of concerns."""
    return {
        name: {t for t in targets if not t.startswith(name + ".") and not name.startswith(t + ".")}
        for name, targets in graph.items()
    }


def test_the_guard_sees_a_cycle() -> None:
    """The cycle finder itself can fail: a made-up graph with a loop is reported."""
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_among_product_modules() -> None:
    assert find_cycles(without_package_edges(GRAPH)) == []


FORBIDDEN: list[tuple[tuple[str, ...], tuple[str, ...], str]] = [
    (
        ("bot.domain", "storage"),
        ("handlers", "schedules", "bot.gateway", "bot.context"),
        "the domain and storage know nothing of Telegram glue",
    ),
    (("storage",), ("bot.domain",), "storage returns models; it never calls domain services"),
    (("handlers",), ("schedules",), "handlers never import timers"),
    (
        ("bot.domain", "storage", "handlers", "schedules", "bot.gateway", "bot.context"),
        ("bot.emulator", "bot.cli", "bot.demo"),
        "only the demo and tests use the emulator",
    ),
]


def allowed_exception(src: str, dst: str) -> bool:
    # the pydantic models and the domain's error type are leaves everyone may use
    return within(src, "storage") and (
        within(dst, "bot.domain.models")
        or dst.startswith("bot.domain.models")
        or within(dst, "bot.domain.errors")
    )


def test_imports_flow_one_way() -> None:
    bad = []
    for src, targets in GRAPH.items():
        for dst in targets:
            for sources, sinks, why in FORBIDDEN:
                if (
                    within(src, *sources)
                    and within(dst, *sinks)
                    and not allowed_exception(src, dst)
                ):
                    bad.append(f"{src} → {dst} ({why})")
            if within(dst, "bot.app") and not within(src, "bot.cli", "bot.demo"):
                bad.append(f"{src} → bot.app (only the CLI, the demo and tests import it)")
    assert bad == []


@pytest.mark.parametrize("layer", ["bot.domain", "storage"])
def test_domain_and_storage_never_import_telegram(layer: str) -> None:
    bad = [
        f"{name} imports {ext}"
        for name, path in FILES.items()
        if within(name, layer)
        for ext in external_imports_of(path)
        if within(ext, "telegram")
    ]
    assert bad == []


def test_no_product_file_over_600_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in FILES.values()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
