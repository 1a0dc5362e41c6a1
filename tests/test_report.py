"""Report settings, output cleaning, contents and the reproducibility appendix."""

import json

import pytest
from nbformat.v4 import new_markdown_cell

from mnist_utils.book import environment, formats, report


def test_settings_defaults_and_date(tmp_path):
    path = tmp_path / "report.yaml"
    path.write_text("title: My study\n")
    settings = report.load_settings(path)
    assert settings["title"] == "My study" and settings["include_code"] is False
    assert len(settings["date"]) == 10  # filled with today's ISO date


def test_settings_accept_an_unquoted_yaml_date(tmp_path):
    path = tmp_path / "report.yaml"
    path.write_text("date: 2026-11-22\n")
    assert report.load_settings(path)["date"] == "2026-11-22"


def test_settings_unknown_key_and_wrong_type(tmp_path):
    path = tmp_path / "report.yaml"
    path.write_text("titel: typo\n")
    with pytest.raises(report.ReportError, match=r"unknown key\(s\) \['titel'\]"):
        report.load_settings(path)
    path.write_text("include_code: 'yes'\n")
    with pytest.raises(report.ReportError, match="'include_code' must be bool"):
        report.load_settings(path)


def test_clean_text_removes_progress_bars_and_ansi():
    raw = "epoch 1\r\x1b[32m=====\x1b[0m done\nnext\x08 line\n"
    assert formats.clean_text(raw) == "===== done\nnext line\n"


def test_headings_skip_code_fences():
    cells = [new_markdown_cell("# One\n```\n# not a heading\n```\n## Two\n### Three")]
    assert report.headings(cells) == [(1, "One"), (2, "Two")]


def test_toc_numbers_sections_like_latex():
    toc = report._toc_html([(1, "Data"), (2, "Split"), (1, "Model"), (2, "Training")])
    assert "1&nbsp; Data" in toc and "1.1&nbsp; Split" in toc and "2.1&nbsp; Training" in toc
    assert 'href="#Data"' in toc


def test_appendix_lists_checksums_parameters_and_times(tmp_path):
    record = {
        "environment": {
            "python": "3.11.7",
            "git_commit": "abc123",
            "git_dirty": True,
            "packages": {"keras": "3.15.1"},
            "cpu": "Test CPU",
            "cpu_count": 2,
            "gpus": [],
        },
        "data": {"source": "npm", "checksums": {"t10k-labels-idx1-ubyte": {"algorithm": "md5", "value": "27ae"}}},
        "notebooks": {
            "02_mlp": {
                "profile": "smoke",
                "parameters": {"epochs": 2},
                "seconds": 12.34,
                "finished": "2026-01-01T00:00:00+00:00",
            }
        },
    }
    text = report.appendix(record, [tmp_path / "02_mlp.ipynb"])
    for expected in (
        "abc123",
        "uncommitted changes were present",
        "3.15.1",
        "27ae",
        "`epochs`",
        "12.3",
        "Test CPU",
        "`smoke`",
    ):
        assert expected in text


def test_appendix_marks_the_values_set_with_p(tmp_path):
    record = {
        "notebooks": {
            "02_mlp": {
                "profile": "full",
                "parameters": {"epochs": 3, "seeds": [0]},
                "overrides": {"epochs": 3},
                "seconds": 1.0,
                "finished": "2026-01-01T00:00:00+00:00",
            }
        }
    }
    text = report.appendix(record, [tmp_path / "02_mlp.ipynb"])
    assert "| `02_mlp` | `epochs` | `3` (set with `-p` for this run) |" in text
    assert "| `02_mlp` | `seeds` | `[0]` |" in text
    assert "| `02_mlp` | `epochs` | `3`（本次运行用 `-p` 设置） |" in report.appendix(
        record, [tmp_path / "02_mlp.ipynb"], "zh"
    )


def test_settings_language_is_checked(tmp_path):
    path = tmp_path / "report.yaml"
    path.write_text("language: fr\n")
    with pytest.raises(report.ReportError, match="'language' must be one of en, zh, got 'fr'"):
        report.load_settings(path)
    with pytest.raises(report.ReportError, match="'language' must be one of en, zh, got 'de'"):
        report.load_settings(path, language="de")
    path.write_text("language: zh\n")
    assert report.load_settings(path)["language"] == "zh"
    assert report.load_settings(path, language="en")["language"] == "en"  # the command line wins


def test_settings_may_be_given_per_language(tmp_path):
    path = tmp_path / "report.yaml"
    path.write_text("title:\n  en: Digits\n  zh: 数字识别\ncourse:\n  en: Machine learning\n")
    assert report.load_settings(path)["title"] == "Digits"
    zh = report.load_settings(path, language="zh")
    assert zh["title"] == "数字识别" and zh["course"] == "Machine learning"  # no zh value: the English one
    path.write_text("title:\n  en: Digits\n  fr: Chiffres\n")
    with pytest.raises(report.ReportError, match=r"'title' has value\(s\) for unknown language\(s\) \['fr'\]"):
        report.load_settings(path)
    path.write_text("student_id:\n  en: '1'\n")  # not a per-language setting
    with pytest.raises(report.ReportError, match="'student_id' must be str"):
        report.load_settings(path)


def test_chinese_cover_labels_and_file_names(tmp_path):
    path = tmp_path / "report.yaml"
    path.write_text("author: 李华\nstudent_id: 2023123456\nmajor_class: 计算机 2 班\ndate: 2026-12-01\nlanguage: zh\n")
    settings = report.load_settings(path)
    assert report.cover_fields(settings) == [
        ("学生姓名", "李华"),
        ("学号", "2023123456"),
        ("专业班级", "计算机 2 班"),
        ("完成日期", "2026-12-01"),
    ]
    layout = report.Layout(tmp_path / "nb", tmp_path / "params", tmp_path / "report")
    assert [p.name for p in report.report_paths(layout, "zh")] == ["mnist_report_zh.html", "mnist_report_zh.pdf"]
    assert [p.name for p in report.report_paths(layout, "en")] == ["mnist_report.html", "mnist_report.pdf"]


def test_appendix_in_chinese(tmp_path):
    record = {
        "environment": {"git_dirty": False},
        "data": {},
        "notebooks": {
            "02_mlp": {
                "profile": "smoke",
                "parameters": {"epochs": 2},
                "jobs": 2,
                "seconds": 1.0,
                "finished": "2026-01-01T00:00:00+00:00",
            }
        },
    }
    text = report.appendix(record, [tmp_path / "02_mlp.ipynb"], "zh")
    assert text.startswith("# 附录：可复现性") and "## 运行时间" in text and "最多有 2 个笔记本同时运行" in text


def test_cover_lists_the_filled_in_fields_in_course_paper_order(tmp_path):
    path = tmp_path / "report.yaml"
    path.write_text("author: Li Hua\nstudent_id: 2023123456\nmajor_class: CS 2\ndate: 2026-12-01\n")
    settings = report.load_settings(path)
    assert settings["student_id"] == "2023123456"  # unquoted digits are read as text
    assert report.cover_fields(settings) == [
        ("Name", "Li Hua"),
        ("Student ID", "2023123456"),
        ("Major and class", "CS 2"),
        ("Date", "2026-12-01"),
    ]
    title = report._title_html(settings)
    assert "<th>Student ID</th><td>2023123456</td>" in title and "Course" not in title


def test_captions_move_onto_their_figures_and_tables():
    from nbformat.v4 import new_code_cell, new_output

    from mnist_utils import display

    figure = new_output(
        "display_data", data={"image/png": "iVBORw0KGgo="}, metadata={"mnist_report": {"kind": "figure", "label": "a"}}
    )
    table = new_output(
        "display_data",
        data={"text/html": "<table></table>", "text/latex": f"{display.LATEX_TABLE[0]}X{display.LATEX_TABLE[1]}"},
        metadata={"mnist_report": {"kind": "table", "label": "t"}},
    )

    def caption(kind, label, number, text, prefix):
        return new_markdown_cell(
            f"**{prefix}** {text}",
            metadata={
                "mnist_report": {"kind": kind, "label": label, "number": number, "caption": text, "prefix": prefix}
            },
        )

    cells = [
        new_code_cell(outputs=[figure, table]),
        caption("figure", "a", 1, "First", "Figure 1. "),
        caption("table", "t", 1, "p < 0.05 & more", "Table 1. "),
        new_markdown_cell("Text."),
    ]
    kept = report.attach_captions(cells)
    assert [c.cell_type for c in kept] == ["code", "markdown"] and kept[1].source == "Text."
    assert figure.metadata["mnist_report"] == {
        "kind": "figure",
        "label": "a",
        "caption": "First",
        "prefix": "Figure 1. ",
        "number": 1,
    }
    assert table.data["text/html"] == (
        "<figure><figcaption><b>Table 1. </b>p &lt; 0.05 &amp; more</figcaption><table></table></figure>"
    )
    assert (
        table.data["text/latex"] == "\\begin{table}[H]\\centering\\small\n\\caption{p < 0.05 \\& more}\nX\\end{table}"
    )


def test_code_appendix_lists_each_notebooks_code_but_not_the_injected_values(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(
        cells=[
            new_markdown_cell("# Data"),
            new_code_cell("epochs = 10", metadata={"tags": ["parameters"]}),
            new_code_cell("epochs = 2", metadata={"tags": ["injected-parameters"]}),
            new_code_cell("print(epochs)"),
            new_code_cell("  "),
        ]
    )
    nbformat.write(nb, tmp_path / "01_data.ipynb")
    text = report.code_appendix([tmp_path / "01_data.ipynb"])
    assert text.startswith("# Appendix: code") and "## 01_data" in text
    assert "```python\nepochs = 10\n```" in text and "```python\nprint(epochs)\n```" in text
    assert "epochs = 2" not in text and text.count("```python") == 2
    assert report.code_appendix([tmp_path / "01_data.ipynb"], "zh").startswith("# 附录：代码")


def test_pandoc_cache_converts_each_text_once_and_keeps_only_what_the_last_build_used(tmp_path, monkeypatch):
    import nbconvert.filters

    calls = []
    monkeypatch.setattr("nbconvert.utils.pandoc.get_pandoc_version", lambda: "3.1")
    monkeypatch.setattr(
        nbconvert.filters,
        "convert_pandoc",
        lambda source, fmt, to, extra_args=None: calls.append((source, fmt, to)) or f"{to}:{source}",
    )
    path = tmp_path / "pandoc.json"
    first = formats.PandocCache(path)
    assert first.convert("*a*", "markdown", "latex") == "latex:*a*"
    assert first.convert("*a*", "markdown", "latex") == "latex:*a*" and len(calls) == 1
    assert first.convert("*a*", "markdown", "json", extra_args=[]) == "json:*a*" and len(calls) == 2
    first.save()
    second = formats.PandocCache(path)  # the next build: one text unchanged, one new
    assert second.convert("*a*", "markdown", "latex") == "latex:*a*" and len(calls) == 2
    assert second.convert("*b*", "markdown", "latex") == "latex:*b*" and len(calls) == 3
    second.save()
    assert sorted(json.loads(path.read_text()).values()) == ["latex:*a*", "latex:*b*"]
    path.write_text("{damaged")
    assert formats.PandocCache(path).convert("*a*", "markdown", "latex") == "latex:*a*" and len(calls) == 4


def test_pandoc_cache_gives_what_pandoc_gives(tmp_path):
    from nbconvert.filters import convert_pandoc

    text = "Some *emphasis*, $x^2$ and a [link](https://example.org)."
    cached = formats.PandocCache(tmp_path / "pandoc.json")
    for _ in range(2):
        assert cached.convert(text, "markdown", "latex") == convert_pandoc(text, "markdown", "latex")


def test_a_markdown_table_s_caption_is_set_above_it_in_the_html_and_the_pdf():
    """The caption cell of a markdown table moves onto the table's cell; the HTML sets it in a
    figcaption, the LaTeX in \\captionof before pandoc's longtable, whose own step of the table
    counter the template undoes, so the PDF numbers tables as the HTML does."""
    import nbformat
    from nbformat.v4 import new_notebook

    table = new_markdown_cell("| a | b |\n|:--|:--|\n| 1 | 2 |", metadata={"mnist_report": {"table_label": "t"}})
    caption = new_markdown_cell(
        "**Table 3.** Claims & more",
        metadata={
            "mnist_report": {
                "kind": "table",
                "label": "t",
                "number": 3,
                "caption": "Claims & more",
                "prefix": "Table 3. ",
            }
        },
    )
    plain = new_markdown_cell("| c | d |\n|:--|:--|\n| 3 | 4 |")
    kept = report.attach_captions([table, caption, plain])
    assert kept == [table, plain]
    assert table.metadata["mnist_report"] == {
        "table_label": "t",
        "caption": "Claims & more",
        "prefix": "Table 3. ",
        "number": 3,
    }
    nb = new_notebook(cells=kept, metadata={"mnist_report": {}})
    html = formats._exporter(__import__("nbconvert").HTMLExporter, "mnist_html", "latex-only").from_notebook_node(
        nbformat.from_dict(nb)
    )[0]
    assert html.count("<figcaption>") == 1
    # Inside the rendered markdown, so the caption has the text's font and margin, as the others do.
    assert (
        html.index('class="jp-RenderedHTMLCommon jp-RenderedMarkdown')
        < html.index("<figure><figcaption><b>Table 3. </b>Claims &amp; more</figcaption>")
        < html.index("<table>")
    )
    latex = formats._exporter(__import__("nbconvert").LatexExporter, "mnist_latex", "html-only").from_notebook_node(
        nbformat.from_dict(nb)
    )[0]
    assert latex.count("\\captionof{table}") == 1
    assert latex.index("\\captionof{table}{Claims \\& more}") < latex.index("\\begin{longtable}")
    assert "\\patchcmd{\\LT@array}{\\refstepcounter{table}}{}" in latex


def test_plain_nbconvert_in_this_environment_sets_a_chinese_copy_in_cjk_fonts(tmp_path):
    """`jupyter nbconvert --to latex` as a user types it, from the project folder: a notebook rendered
    in Chinese gets the report's xeCJK setup; an English one nbconvert's own preamble."""
    import subprocess
    import sys
    from pathlib import Path

    import nbformat
    from nbformat.v4 import new_notebook

    from mnist_utils.book import pipeline

    config = json.loads(environment.nbconvert_config_file().read_text())
    assert config["LatexExporter"] == environment.NBCONVERT_CONFIG["LatexExporter"]  # installed by `make setup`
    jupyter = Path(sys.executable).with_name("jupyter")
    for language, text in (("zh", "基线多层感知机"), ("en", "A baseline")):
        path = tmp_path / f"{language}.ipynb"
        nbformat.write(
            new_notebook(cells=[new_markdown_cell(f"# {text}")], metadata={"mnist_study": {"language": language}}), path
        )
        subprocess.run(
            [str(jupyter), "nbconvert", "--to", "latex", str(path)],
            check=True,
            capture_output=True,
            cwd=pipeline.project_root(),
        )
        latex = path.with_suffix(".tex").read_text(encoding="utf-8")
        assert text in latex
        assert ("\\usepackage{xeCJK}" in latex) == (language == "zh")
        if language == "zh":
            assert f"\\setCJKmainfont[Path={formats.CJK_FONT_DIR}/, FontIndex=2" in latex


def test_the_nbconvert_configuration_is_added_to_what_the_environment_has(tmp_path):
    import os

    path = environment.nbconvert_config_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"LatexExporter": {"exclude_input": True}, "HTMLExporter": {"theme": "dark"}}))
    assert environment.install_nbconvert_config(tmp_path) == path
    config = json.loads(path.read_text())
    assert config["HTMLExporter"] == {"theme": "dark"}
    assert config["LatexExporter"] == {"exclude_input": True, **environment.NBCONVERT_CONFIG["LatexExporter"]}
    os.utime(path, ns=(0, 0))  # a second write would give the file a new modification time
    assert environment.install_nbconvert_config(tmp_path) == path and path.stat().st_mtime_ns == 0


def test_the_report_is_rebuilt_when_any_module_of_the_book_changes(tmp_path):
    """Not only report.py: the prose renderer, the summary and the formats make the report too."""
    import shutil
    from pathlib import Path

    book = tmp_path / "book"
    shutil.copytree(Path(report.__file__).parent, book, ignore=shutil.ignore_patterns("__pycache__", "templates"))
    before = report.builder_digest(book)
    assert report.builder_digest(book) == before
    for module in ("summary.py", "prose.py", "formats.py"):
        with open(book / module, "a", encoding="utf-8") as f:
            f.write("\n# edited\n")
        assert report.builder_digest(book) != before, module
        before = report.builder_digest(book)
