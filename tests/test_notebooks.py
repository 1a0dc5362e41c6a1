"""The committed notebooks follow the conventions the runner and report rely on."""

import json
from pathlib import Path

import pytest

from mnist_utils import pipeline

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS][:2] == ["01", "02"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_clean_and_parameterized(path):
    cells = json.loads(path.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", []), "first code cell must be 'parameters'"
    assert all(not c["outputs"] and c["execution_count"] is None for c in code), "commit without outputs"
    for c in code:
        for line in "".join(c["source"]).splitlines():
            assert not line.lstrip().startswith(("def ", "class ")), f"move into mnist_utils: {line}"
    assert cells[0]["cell_type"] == "markdown" and cells[0]["source"][0].startswith("# ")


@pytest.mark.parametrize("profile", ["full", "smoke"])
def test_profiles_fit_the_notebooks(profile):
    layout = pipeline.default_layout()
    resolved = pipeline.resolve_parameters(
        pipeline.discover(layout.notebooks), pipeline.load_profile(layout.params, profile))
    assert set(resolved) == {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_computes_and_markdown_tells_in_one_language(path):
    """Code cells publish values and show figures and tables; sentences, captions and the Chinese
    live in markdown and in notebooks/zh/ (DESIGN.md: "Code computes, markdown tells")."""
    import ast
    import re

    from mnist_utils import i18n

    cells = json.loads(path.read_text())["cells"]
    for cell in cells:
        text = "".join(cell["source"])
        assert not i18n.has_chinese(text), f"Chinese belongs in notebooks/zh/{path.stem}.yaml: {text[:80]}"
        assert not set(cell["metadata"].get("tags", [])) & {"lang-en", "lang-zh"}, text[:80]
        if cell["cell_type"] != "code" or "parameters" in cell["metadata"].get("tags", []):
            continue
        assert len([line for line in text.splitlines() if line.strip()]) <= 15, f"code cell over 15 lines: {text[:80]}"
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                assert not any(isinstance(n, ast.IfExp) for n in ast.walk(node)), f"wording chosen in code: {text[:80]}"
                # A figure label (axis, legend) is data that i18n's table translates; a sentence is not.
                label = "".join(v.value if isinstance(v, ast.Constant) else "1" for v in node.values)
                if i18n.translate(label) == label:
                    assert len(re.findall(r"[A-Za-z]{2,}", label)) < 6, f"a sentence built in code: {ast.unparse(node)}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "md":
                raise AssertionError(f"display.md is gone: write the sentence in a markdown cell: {text[:80]}")
