"""Report settings, output cleaning, contents and the reproducibility appendix."""

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
    with pytest.raises(report.ReportError, match="'language' must be one of en, got 'fr'"):
        report.load_settings(path)
    path.write_text("language: zh\n")
    with pytest.raises(report.ReportError, match="Chinese edition"):
        report.load_settings(path)


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


def test_unresolved_and_duplicate_references_are_errors():
    from nbformat.v4 import new_code_cell

    cells = [new_markdown_cell("See [@fig:nope]."),
             new_code_cell(outputs=[_output("figure", "One", "a"), _output("figure", "Two", "a")])]
    with pytest.raises(report.ReportError) as err:
        report.number_figures_and_tables(cells)
    assert "[@fig:nope] refers to no captioned figure" in str(err.value) and "'fig:a' is used twice" in str(err.value)
