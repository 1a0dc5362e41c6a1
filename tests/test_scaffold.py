"""`mnist-study new`: a notebook of one's own that follows the house rules, runs in the smoke
profile and appears in both editions; a taken number or name is refused and nothing is written."""

import shutil

import nbformat
import pytest
import yaml

from mnist_utils.book import cli, conventions, notebooks, pipeline, prose, scaffold, translations
from mnist_utils.book.errors import PipelineError

QUESTION = "Does batch 32 or 256 change the baseline's accuracy?"


@pytest.fixture
def project(tmp_path):
    """A copy of the project's notebooks (02 only, and its Chinese) and profiles."""
    real = pipeline.default_layout()
    (tmp_path / "notebooks" / "zh").mkdir(parents=True)
    shutil.copy(real.notebooks / "02_mlp_baseline.ipynb", tmp_path / "notebooks")
    shutil.copy(real.notebooks / "zh" / "02_mlp_baseline.yaml", tmp_path / "notebooks" / "zh")
    shutil.copytree(real.params, tmp_path / "params")
    return notebooks.Layout(tmp_path / "notebooks", tmp_path / "params", tmp_path / "report")


def test_new_writes_a_notebook_that_keeps_the_house_rules(project):
    written = scaffold.new("08_batch_size", QUESTION, project)
    path = project.notebooks / "08_batch_size.ipynb"
    assert written == [path, project.notebooks / "zh" / "08_batch_size.yaml", project.params / "smoke.yaml"]
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].source.startswith(f"# Batch size\n\n**Question.** {QUESTION}")
    assert "parameters" in nb.cells[1].metadata["tags"] and nb.metadata["mnist_study"]["reads"] == []
    assert conventions.problems(path) == []
    # Its templates and references check; only the title's Chinese waits (see below).
    assert prose.check_source(path) == ["08_batch_size.ipynb, cell cell-00: the zh translation is out of date"]
    profile = yaml.safe_load((project.params / "smoke.yaml").read_text())
    assert profile["notebooks"]["08_batch_size"] == {"seeds": [0], "epochs": 1, "train_limit": 3000}
    assert "02_mlp_baseline" in profile["notebooks"]  # the rest of the profile is kept
    # Every cell's Chinese is current except the title, which waits for its author's translation of the question.
    assert list(translations.stale_translations(path, "zh")) == ["cell-00"]
    markdown = {c.id for c in nb.cells if c.cell_type == "markdown"}
    assert set(translations.load_translations(path, "zh")) == markdown


@pytest.mark.parametrize(
    "name, message",
    [
        ("02_batch_size", "Number 02 is taken by 02_mlp_baseline.ipynb; choose a free one, e.g. 01_batch_size"),
        ("8_batch_size", "use two digits"),
        ("08_Batch", "use two digits"),
        ("08-batch", "use two digits"),
    ],
)
def test_new_refuses_a_taken_number_or_a_malformed_name_and_writes_nothing(project, name, message):
    before = {p: p.read_bytes() for p in [*project.notebooks.rglob("*"), *project.params.iterdir()] if p.is_file()}
    with pytest.raises(PipelineError, match=message):
        scaffold.new(name, QUESTION, project)
    after = {p: p.read_bytes() for p in [*project.notebooks.rglob("*"), *project.params.iterdir()] if p.is_file()}
    assert after == before


def test_new_refuses_a_name_whose_chinese_or_smoke_section_exists(project):
    (project.notebooks / "zh" / "08_batch_size.yaml").write_text("cell-00:\n  zh: x\n")
    with pytest.raises(PipelineError, match="08_batch_size.yaml already exists"):
        scaffold.new("08_batch_size", QUESTION, project)
    assert not (project.notebooks / "08_batch_size.ipynb").exists()
    (project.notebooks / "zh" / "08_batch_size.yaml").unlink()
    smoke = project.params / "smoke.yaml"
    smoke.write_text(smoke.read_text() + "  08_batch_size:\n    epochs: 1\n")
    with pytest.raises(PipelineError, match="already has a section for 08_batch_size"):
        scaffold.new("08_batch_size", QUESTION, project)
    with pytest.raises(PipelineError, match="question is empty"):
        scaffold.new("09_other", "  ", project)


def test_the_cli_writes_it_and_says_what_to_do_next(project, monkeypatch, capsys):
    monkeypatch.setattr(notebooks, "default_layout", lambda *a: project)
    assert cli.main(["new", "08_batch_size", QUESTION]) == 0
    out = capsys.readouterr().out
    assert "Wrote" in out and "mnist-study run --profile smoke --only 08" in out
    assert cli.main(["new", "08_other", QUESTION]) == 1
    assert "Number 08 is taken by 08_batch_size.ipynb" in capsys.readouterr().err


@pytest.mark.e2e
@pytest.mark.mnist
def test_the_new_notebook_runs_in_the_smoke_profile_and_appears_in_both_editions(project):
    """02 and a new 08, smoke profile: 08 is counted and named in the introduction, its takeaways reach
    the conclusions, and every figure and table has the same number in the PDF as in the HTML."""
    import re

    from pypdf import PdfReader

    from mnist_utils.book import report

    scaffold.new("08_batch_size", QUESTION, project)
    smoke = project.params / "smoke.yaml"
    sections = yaml.safe_load(smoke.read_text())["notebooks"]
    smoke.write_text(yaml.safe_dump({"notebooks": {k: sections[k] for k in ("02_mlp_baseline", "08_batch_size")}}))
    record = pipeline.run("smoke", layout=project, log=lambda _: None)
    assert list(record["notebooks"]) == ["02_mlp_baseline", "08_batch_size"]
    for language, words in (
        (
            "en",
            (
                "The two parts that follow",
                f"Notebook 08, <em>Batch size</em>, was added to the study: {QUESTION}",
                "Batch size.</strong> At batch 128",
                f"Notebook 08, added to the study, asks: {QUESTION}",  # the abstract
            ),
        ),
        (
            "zh",
            (
                "后面两个部分",
                "笔记本 08《Batch size》是后来加入本研究的：",
                "Batch size。</strong> 批大小为 128 时",
                "后来加入本研究的笔记本 08 提出的问题是：",
            ),
        ),
    ):
        paths, built = report.build(project, project.params / "report.yaml", language=language)
        html = next(p for p in paths if p.suffix == ".html").read_text(encoding="utf-8")
        pdf = "\n".join(page.extract_text() for page in PdfReader(next(p for p in paths if p.suffix == ".pdf")).pages)
        assert built and "Batch size" in html and "Batch size" in pdf
        # A caption reads "Figure 3: ..." in the English PDF and "图 3 ..." in the Chinese one; the HTML
        # sets "<b>Figure 3.</b>" and "<b>图 3　</b>" (an ideographic space); a reference, "（图 3）", is neither.
        kinds = ("Figure", "Table") if language == "en" else ("图", "表")
        pdf_caption, html_caption = (r" (\d+):", r" (\d+)\.") if language == "en" else (r" (\d+) ", r" (\d+)\u3000")
        for kind in kinds:
            in_pdf = [int(n) for n in re.findall("(?m)^" + kind + pdf_caption, pdf)]  # captions start a line
            in_html = [int(n) for n in re.findall("<b>" + kind + html_caption, html)]
            assert in_pdf == in_html == list(range(1, len(in_html) + 1)) and in_html, (language, kind, in_pdf, in_html)
        assert [int(n) for n in re.findall(r"<b>(?:Figure|图) ?(\d+)", html)][-1] == 3  # 02's two figures, then 08's
        for expected in words:
            assert expected in html.replace("&#x27;", "'").replace("&#39;", "'"), (language, expected)


@pytest.mark.parametrize(
    "language, seven, eight, named",
    [
        (
            "en",
            "\n\n**How the report is organised.** The seven parts",
            "The eight parts",
            "Notebook 08, *Batch size*, was",
        ),
        ("zh", "\n\n**报告的组织。** 后面七个部分", "后面八个部分", "笔记本 08《Batch size》是后来加入本研究的"),
    ],
)
def test_the_introduction_counts_the_parts_and_names_the_added_ones(language, seven, eight, named):
    from mnist_utils.book import report

    study = report.introduction(language)
    assert seven in study and ("was added" not in study and "后来加入" not in study)  # its own paragraph; nothing added
    added = [{"number": "08", "title": "Batch size", "question": QUESTION, "takeaways": ""}]
    grown = report.introduction(language, 8, added)
    assert eight in grown and f"{named}" in grown and QUESTION in grown
