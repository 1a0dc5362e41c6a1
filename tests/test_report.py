"""Report settings, output cleaning, contents and the reproducibility appendix."""

import copy

import pytest
from nbformat.v4 import new_markdown_cell

from mnist_utils import report


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
    assert report.clean_text(raw) == "===== done\nnext line\n"


def test_headings_skip_code_fences():
    cells = [new_markdown_cell("# One\n```\n# not a heading\n```\n## Two\n### Three")]
    assert report.headings(cells) == [(1, "One"), (2, "Two")]


def test_toc_numbers_sections_like_latex():
    toc = report._toc_html([(1, "Data"), (2, "Split"), (1, "Model"), (2, "Training")])
    assert "1&nbsp; Data" in toc and "1.1&nbsp; Split" in toc and "2.1&nbsp; Training" in toc
    assert 'href="#Data"' in toc


def test_appendix_lists_checksums_parameters_and_times(tmp_path):
    record = {
        "environment": {"python": "3.11.7", "git_commit": "abc123", "git_dirty": True,
                        "packages": {"keras": "3.15.1"}, "cpu": "Test CPU", "cpu_count": 2, "gpus": []},
        "data": {"source": "npm", "checksums": {"t10k-labels-idx1-ubyte": {"algorithm": "md5", "value": "27ae"}}},
        "notebooks": {"02_mlp": {"profile": "smoke", "parameters": {"epochs": 2},
                                 "seconds": 12.34, "finished": "2026-01-01T00:00:00+00:00"}},
    }
    text = report.appendix(record, [tmp_path / "02_mlp.ipynb"])
    for expected in ("abc123", "uncommitted changes were present", "3.15.1", "27ae", "`epochs`",
                     "12.3", "Test CPU", "`smoke`"):
        assert expected in text


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
    assert report.cover_fields(settings) == [("学生姓名", "李华"), ("学号", "2023123456"),
                                             ("专业班级", "计算机 2 班"), ("完成日期", "2026-12-01")]
    layout = report.Layout(tmp_path / "nb", tmp_path / "params", tmp_path / "report")
    assert [p.name for p in report.report_paths(layout, "zh")] == ["mnist_report_zh.html", "mnist_report_zh.pdf"]
    assert [p.name for p in report.report_paths(layout, "en")] == ["mnist_report.html", "mnist_report.pdf"]


def test_appendix_in_chinese(tmp_path):
    record = {"environment": {"git_dirty": False}, "data": {},
              "notebooks": {"02_mlp": {"profile": "smoke", "parameters": {"epochs": 2}, "jobs": 2,
                                       "seconds": 1.0, "finished": "2026-01-01T00:00:00+00:00"}}}
    text = report.appendix(record, [tmp_path / "02_mlp.ipynb"], "zh")
    assert text.startswith("# 附录：可复现性") and "## 运行时间" in text and "最多有 2 个笔记本同时运行" in text


def test_cover_lists_the_filled_in_fields_in_course_paper_order(tmp_path):
    path = tmp_path / "report.yaml"
    path.write_text("author: Li Hua\nstudent_id: 2023123456\nmajor_class: CS 2\ndate: 2026-12-01\n")
    settings = report.load_settings(path)
    assert settings["student_id"] == "2023123456"  # unquoted digits are read as text
    assert report.cover_fields(settings) == [("Name", "Li Hua"), ("Student ID", "2023123456"),
                                             ("Major and class", "CS 2"), ("Date", "2026-12-01")]
    title = report._title_html(settings)
    assert "<th>Student ID</th><td>2023123456</td>" in title and "Course" not in title


def _output(kind, caption, label=None):
    from nbformat.v4 import new_output

    data = {"image/png": "iVBORw0KGgo="} if kind == "figure" else {
        "text/html": f"<figure><figcaption><b>{caption}</b></figcaption><table></table></figure>",
        "text/latex": "\\begin{table}\\caption{x}\\end{table}"}
    return new_output("display_data", data=data,
                      metadata={"mnist_report": {"kind": kind, "caption": caption, "label": label}})


def test_figures_and_tables_are_numbered_in_order_and_references_resolve():
    from nbformat.v4 import new_code_cell, new_output

    cells = [new_markdown_cell("As [@fig:a] and [@tab:t] show, and [@fig:b] confirms."),
             new_code_cell(outputs=[_output("figure", "First", "a"), _output("table", "A table", "t")]),
             new_code_cell(outputs=[
                 _output("figure", "Second", "b"),
                 new_output("display_data", data={"text/markdown": "*Second*"},
                            metadata={"mnist_report": {"caption_of": "b"}}),
                 new_output("display_data", data={"text/markdown": "computed: see [@tab:t]"}),
                 new_output("display_data", data={"image/png": "iVBORw0KGgo="})])]  # uncaptioned: no number
    names = report.number_figures_and_tables(cells)
    assert names == {"fig:a": "Figure 1", "tab:t": "Table 1", "fig:b": "Figure 2"}
    assert cells[0].source == "As Figure 1 and Table 1 show, and Figure 2 confirms."
    assert [o.metadata.get("mnist_report", {}).get("number") for o in cells[2].outputs] == [2, None, None]
    assert cells[2].outputs[1].data["text/markdown"] == "computed: see Table 1"  # and the repeated caption is gone
    assert "<b>Table 1. A table</b>" in cells[1].outputs[1].data["text/html"]


def test_numbers_and_references_in_chinese():
    from nbformat.v4 import new_code_cell

    cells = [new_markdown_cell("见 [@fig:a] 和 [@tab:t]。"),
             new_code_cell(outputs=[_output("figure", "图注", "a"), _output("table", "表注", "t")])]
    assert report.number_figures_and_tables(cells, "zh") == {"fig:a": "图 1", "tab:t": "表 1"}
    assert cells[0].source == "见 图 1 和 表 1。"
    assert "<b>表 1\u3000表注</b>" in cells[1].outputs[1].data["text/html"]


def test_localize_keeps_one_language_and_flags_what_has_no_translation():
    from nbformat.v4 import new_code_cell, new_output

    def md(text, tag=None):
        return new_markdown_cell(text, metadata={"tags": [tag]} if tag else {})

    figure = _output("figure", "A caption", "a")
    figure.metadata["mnist_report"]["zh"] = {"data": {"image/png": "WkgK"}, "caption": "图注",
                                             "untranslated": ["some label"]}
    prose = new_output("display_data", data={"text/markdown": "The best is **A**."},
                       metadata={"mnist_report": {"zh": {"data": {"text/markdown": "最好的是 **A**。"}}}})
    bare = new_output("display_data", data={"text/markdown": "No translation here."})
    numbers = new_output("display_data", data={"text/markdown": "**98.1 %** ($p < 0.05$)"})
    cells = [md("# Data", "lang-en"), md("# 数据", "lang-zh"), md("$$x$$"),
             new_code_cell(outputs=[figure, prose, bare, numbers], id="c1")]
    english = copy.deepcopy(cells)
    assert report.localize(english, "en") == [] and [c.source for c in english[:2]] == ["# Data", "$$x$$"]
    problems = report.localize(cells, "zh")
    assert [c.source for c in cells[:2]] == ["# 数据", "$$x$$"]
    outputs = cells[2].outputs
    assert outputs[0].data == {"image/png": "WkgK"} and outputs[0].metadata["mnist_report"]["caption"] == "图注"
    assert outputs[1].data == {"text/markdown": "最好的是 **A**。"}
    assert problems == ["cell c1: label left in English: 'some label'",
                        "cell c1: output without a zh edition: 'No translation here.'"]


def test_unresolved_and_duplicate_references_are_errors():
    from nbformat.v4 import new_code_cell

    cells = [new_markdown_cell("See [@fig:nope]."),
             new_code_cell(outputs=[_output("figure", "One", "a"), _output("figure", "Two", "a")])]
    with pytest.raises(report.ReportError) as err:
        report.number_figures_and_tables(cells)
    assert "[@fig:nope] refers to no captioned figure" in str(err.value) and "'fig:a' is used twice" in str(err.value)


def test_code_appendix_lists_each_notebooks_code_but_not_the_injected_values(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_markdown_cell("# Data"), new_code_cell("epochs = 10", metadata={"tags": ["parameters"]}),
                             new_code_cell("epochs = 2", metadata={"tags": ["injected-parameters"]}),
                             new_code_cell("print(epochs)"), new_code_cell("  ")])
    nbformat.write(nb, tmp_path / "01_data.ipynb")
    text = report.code_appendix([tmp_path / "01_data.ipynb"])
    assert text.startswith("# Appendix: code") and "## 01_data" in text
    assert "```python\nepochs = 10\n```" in text and "```python\nprint(epochs)\n```" in text
    assert "epochs = 2" not in text and text.count("```python") == 2
    assert report.code_appendix([tmp_path / "01_data.ipynb"], "zh").startswith("# 附录：代码")
