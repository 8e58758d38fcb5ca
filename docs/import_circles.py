"""Import circles among our packages: the strongly connected components of the import
graph that grimp (installed with import-linter) builds. Run from the checkout:

    PYTHONPATH=. .venv/bin/python docs/import_circles.py

Issue 15 measured it: 3 circles (3, 4 and 10 modules) before, 1 after (the model modules,
whose mapped classes name each other in relationships).
"""
from __future__ import annotations

import sys

import grimp

PACKAGES = ("service", "workers", "forms", "storage")


def circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


if __name__ == "__main__":
    found = circles(grimp.build_graph(*PACKAGES))
    print(f"{len(found)} import circle(s): {[len(c) for c in found]}")
    for component in found:
        print("  " + " ".join(component))
