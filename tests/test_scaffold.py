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
    from mnist_utils.book import report

    scaffold.new("08_batch_size", QUESTION, project)
    (project.notebooks / "02_mlp_baseline.ipynb").unlink()  # only the new notebook runs
    (project.notebooks / "zh" / "02_mlp_baseline.yaml").unlink()
    smoke = project.params / "smoke.yaml"
    mine = yaml.safe_load(smoke.read_text())["notebooks"]["08_batch_size"]
    smoke.write_text(yaml.safe_dump({"notebooks": {"08_batch_size": mine}}))
    record = pipeline.run("smoke", layout=project, log=lambda _: None)
    assert list(record["notebooks"]) == ["08_batch_size"]
    for language, words in (("en", "Does batch 32 or 256 change"), ("zh", "问题。")):
        paths, built = report.build(project, project.params / "report.yaml", language=language)
        html = next(p for p in paths if p.suffix == ".html").read_text(encoding="utf-8")
        assert built and "Batch size" in html and words in html
