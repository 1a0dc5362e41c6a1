"""The notebooks' house rules, checked before anything executes: code computes, markdown tells.

A code cell publishes values (``display.facts``) and shows figures and tables; the sentences that
state results are markdown with blanks, and their Chinese lives in ``notebooks/zh/``. So a code
cell holds no sentence, no wording chosen by ``if … else``, no Chinese, no ``def`` or ``class``
(that work belongs in ``mnist_utils``), and at most :data:`MAX_LINES` lines. ``mnist-study run``
refuses a notebook that breaks one (:func:`problems`), and ``tests/test_notebooks.py`` calls the same check.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from mnist_utils import i18n

MAX_LINES = 15  # non-blank lines of a code cell other than the parameters cell
SENTENCE_WORDS = 6  # words of two letters or more from which an f-string counts as a sentence


@dataclass(frozen=True)
class Problem:
    """One broken rule: where it is and what to do instead."""

    notebook: str
    cell: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.notebook}, cell {self.cell}, line {self.line}: {self.what}"


def _code_problems(text: str) -> list[tuple[int, str]]:
    """(line, what) for each rule a code cell's source breaks."""
    found = []
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if len(lines) > MAX_LINES:
        found.append(
            (
                lines[MAX_LINES],
                f"a code cell of {len(lines)} lines (at most {MAX_LINES}): split it, or move the work into "
                "a function in mnist_utils",
            )
        )
    try:
        tree = ast.parse(text)
    except SyntaxError as e:  # the kernel will say it better; nothing else to check here
        return [*found, (e.lineno or 1, f"not valid Python: {e.msg}")]
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            kind = "class" if isinstance(node, ast.ClassDef) else "def"
            found.append(
                (node.lineno, f"`{kind} {node.name}` in a notebook: move it into a module of mnist_utils and import it")
            )
        elif isinstance(node, ast.JoinedStr):
            found += [(node.lineno, what) for what in _fstring_problems(node)]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "md":
            found.append((node.lineno, "display.md is gone: write the sentence in a markdown cell"))
    return sorted(found)


def _fstring_problems(node: ast.JoinedStr) -> list[str]:
    source = ast.unparse(node)
    if any(isinstance(n, ast.IfExp) for n in ast.walk(node)):
        return [
            f"wording chosen in code ({source}): publish the value with display.facts and choose the words "
            "in a markdown cell ({{ 'a' if x else 'b' }})"
        ]
    # A figure label (axis, legend) is data that i18n's table translates; a sentence is not.
    label = "".join(v.value if isinstance(v, ast.Constant) else "1" for v in node.values)
    if i18n.translate(label) == label and len(re.findall(r"[A-Za-z]{2,}", label)) >= SENTENCE_WORDS:
        return [
            f"a sentence built in code ({source}): publish its values with display.facts and write the "
            "sentence in a markdown cell, with {{ name }} blanks, so that it is translated and stays out of the code"
        ]
    return []


def problems(path: Path) -> list[Problem]:
    """Every house rule the notebook at ``path`` breaks, in cell order."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    found = []
    for index, cell in enumerate(nb.cells):
        cid = cell.get("id") or f"#{index + 1}"
        text = cell.source
        tags = set(cell.get("metadata", {}).get("tags", []))
        if i18n.has_chinese(text):
            line = next(n for n, row in enumerate(text.splitlines(), start=1) if i18n.has_chinese(row))
            found.append(
                Problem(path.name, cid, line, f"Chinese in the notebook: it belongs in notebooks/zh/{path.stem}.yaml")
            )
        if tags & {"lang-en", "lang-zh"}:
            found.append(
                Problem(path.name, cid, 1, "a lang-en/lang-zh tag: the Chinese lives in notebooks/zh/, remove the tag")
            )
        if cell.cell_type == "code" and "parameters" not in tags:
            found += [Problem(path.name, cid, line, what) for line, what in _code_problems(text)]
    return found
