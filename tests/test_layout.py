"""The package's two wings: the science the notebooks import (``mnist_utils/``) and the book machinery
that runs them and builds the report (``mnist_utils/book/``). The science never imports the book, no
notebook imports it, and no module imports itself round a circle."""

import ast
import json
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mnist_utils"
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def imports(source: str, module: str) -> set[str]:
    """The ``mnist_utils`` modules that ``source`` (the module ``module``, dotted) imports anywhere in
    it, functions included, as dotted names ("mnist_utils.book.prose")."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "mnist_utils"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package
                base = ".".join(module.split(".")[: -node.level] + ([base] if base else []))
            if base.split(".")[0] != "mnist_utils":
                continue
            for alias in node.names:  # "from mnist_utils.book import prose" names a module; "import X" of one, a name
                path = PACKAGE.parent / Path(*f"{base}.{alias.name}".split("."))
                found.add(f"{base}.{alias.name}" if path.with_suffix(".py").is_file() or path.is_dir() else base)
    return found


def modules() -> dict[str, set[str]]:
    """Every module of the package, dotted, with the package modules it imports."""
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        graph[name] = imports(path.read_text(encoding="utf-8"), name)
    return graph


def test_the_science_never_imports_the_book():
    science = {name: used for name, used in modules().items() if not name.startswith("mnist_utils.book")}
    assert len(science) >= 15 and "mnist_utils.training" in science
    offending = {name: sorted(u for u in used if u.startswith("mnist_utils.book")) for name, used in science.items()}
    assert {name: used for name, used in offending.items() if used} == {}


def test_the_book_imports_the_science_it_needs_and_the_rule_would_see_it_otherwise():
    graph = modules()
    assert "mnist_utils.artifacts" in graph["mnist_utils.book.notebooks"]  # the other side: book -> science is fine
    # The rule's own check: a science module importing the book in a function is found.
    assert "mnist_utils.book.prose" in imports(
        "def f():\n    from mnist_utils.book import prose\n", "mnist_utils.plots"
    )
    assert "mnist_utils.book" in imports("import mnist_utils.book\n", "mnist_utils.plots")


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_no_notebook_imports_the_book(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    used = imports(code, "notebook")
    assert used and not [u for u in used if u.startswith("mnist_utils.book")], sorted(used)


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of ``graph`` (module -> modules it imports), by depth-first search: a
    module met again while still on the path closes one."""
    state, found = {}, []

    def visit(name, path):
        state[name] = "open"
        for target in sorted(graph.get(name, ())):
            if target not in graph or target in (name, "mnist_utils"):
                continue
            if state.get(target) == "open":
                found.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return found


def test_no_module_imports_itself_round_a_circle():
    assert circles(modules()) == []


def test_the_circle_check_finds_the_one_there_was():
    """pipeline imported prose (to render), and prose imported the runner's error from pipeline."""
    graph = modules()
    graph["mnist_utils.book.pipeline"] = imports(
        "def render():\n    from mnist_utils.book import prose\n", "mnist_utils.book.pipeline"
    )
    graph["mnist_utils.book.prose"] = imports(
        "from mnist_utils.book.pipeline import PipelineError\n", "mnist_utils.book.prose"
    )
    assert ["mnist_utils.book.pipeline", "mnist_utils.book.prose", "mnist_utils.book.pipeline"] in circles(graph)
