"""End to end: every notebook with the smoke profile through the real runner, then the report."""

import json
import os
import re
import shutil

import nbformat
import pytest
from pypdf import PdfReader

from mnist_utils.book import pipeline, report
from mnist_utils.book.environment import KERNEL_NAME

pytestmark = pytest.mark.e2e
LOG_NOISE = re.compile(r"I0000|E0000|WARNING: All log messages|oneDNN|cuda|\x1b\[|\r")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """Run the smoke profile once into a temporary report folder and build the report."""
    real = pipeline.default_layout()
    layout = pipeline.Layout(real.notebooks, real.params, tmp_path_factory.mktemp("e2e") / "report")
    record = pipeline.run("smoke", layout=layout, log=lambda _: None)
    paths, _ = report.build(layout, real.params / "report.yaml")
    return layout, record, paths


def test_every_notebook_ran_and_left_its_artifacts(smoke):
    layout, record, _ = smoke
    stems = [p.stem for p in pipeline.discover(layout.notebooks)]
    assert list(record["notebooks"]) == stems
    for stem in stems:
        assert (layout.executed / f"{stem}.ipynb").is_file() and (layout.rendered("zh") / f"{stem}.ipynb").is_file()
        assert (layout.artifacts / stem / "metrics.json").is_file()
        assert record["notebooks"][stem]["profile"] == "smoke" and record["notebooks"][stem]["seconds"] > 0
    assert (layout.artifacts / "02_mlp_baseline" / "model.keras").stat().st_size > 100_000
    assert not (layout.report / ".staging").exists() and not layout.failed.exists()
    assert json.loads(layout.run_record.read_text())["data"]["checksums"]


def test_metrics_are_real_results(smoke):
    layout, _, _ = smoke
    metrics = json.loads((layout.artifacts / "02_mlp_baseline" / "metrics.json").read_text())
    # 2 epochs on 6,000 images: far better than chance (10 %), short of the full study.
    assert 0.8 < metrics["test_accuracy"]["mean"] < 0.99
    assert metrics["parameters"] == 784 * 128 + 128 + 128 * 10 + 10
    counts = json.loads((layout.artifacts / "01_data" / "metrics.json").read_text())["class_counts"]
    assert [sum(counts[k]) for k in ("train", "validation", "test")] == [54000, 6000, 10000]
    study = json.loads((layout.artifacts / "03_optimizers_activations" / "metrics.json").read_text())
    assert set(study["chosen_learning_rates"]) == {"sgd", "nesterov", "rmsprop", "adam"}
    assert study["best"]["activation"] in ("relu", "tanh") and 0.5 < study["best"]["test_accuracy"]["mean"] < 0.99
    assert 0 <= study["mcnemar_vs_baseline"][0]["p_value"] <= 1
    reg = json.loads((layout.artifacts / "04_regularization" / "metrics.json").read_text())
    settings = {row["setting"] for row in reg["runs"]}
    assert {"none", "L2 0.001", "dropout 0.5", "batch norm", "early stopping"} <= settings
    assert len(reg["capacity"]) == 4 and reg["best"]["setting"] in settings - {"none"}
    cnn = json.loads((layout.artifacts / "05_cnn" / "metrics.json").read_text())
    assert [m["model"] for m in cnn["models"]] == ["paper 001 CNN", "LeNet-5", "BN-CNN", "our CNN"]
    # The smoke profile's ablation trains both arms on a 500-image subset, as the full profile does on 4,000.
    assert cnn["ablation"]["train_size"] == 500
    assert {name: len(runs) for name, runs in cnn["ablation"]["runs"].items()} == {
        "our CNN": 2,
        "our CNN, no augmentation": 2,
    }
    assert cnn["ablation"]["runs"]["our CNN"][0]["test_accuracy"] != cnn["runs"]["our CNN"][0]["test_accuracy"]
    assert cnn["models"][0]["multiply-adds (M)"] == pytest.approx(0.513792)  # paper 001's CNN, counted by hand
    assert len(cnn["cross_validation"]["fold_accuracy"]) == 2 and 0 < cnn["ours"]["ensemble_test_accuracy"] < 1
    errors = json.loads((layout.artifacts / "06_error_analysis" / "metrics.json").read_text())
    for name, rows in errors["per_class"].items():
        weighted = next(r for r in rows if r["digit"] == "weighted average")
        assert weighted["recall"] == pytest.approx(errors["test_accuracy"][name])
    assert errors["test_accuracy"]["CNN"] == pytest.approx(cnn["exports"][0]["test accuracy (%)"] / 100)
    assert [r["model"] for r in errors["calibration"]] == ["MLP", "CNN"]
    assert errors["robustness"]["FGSM ε"]["CNN"]["levels"] == [0.0, 0.1, 0.3]
    assert 0 < errors["sklearn_digits_accuracy"]["CNN"] < 1


def test_the_planned_training_work_bounds_what_the_run_did(smoke):
    """budget.planned_flops is an upper bound of each notebook's recorded work, and not a loose one."""
    from mnist_utils import budget

    layout, record, _ = smoke
    notebooks = pipeline.discover(layout.notebooks)
    planned = budget.planned_flops(
        pipeline.resolve_parameters(notebooks, pipeline.read_profile(layout.params, "smoke")["notebooks"])
    )
    assert set(planned) == {stem for stem, nb in record["notebooks"].items() if nb["training_flops"]}
    for stem, flops in planned.items():
        # Recorded work leaves out the test predictions of side-by-side models; the BN-CNN may stop early.
        assert 0.5 * flops <= record["notebooks"][stem]["training_flops"] <= flops, stem


def test_exported_cnn_loads_and_agrees_with_keras(smoke):
    """The three exports notebook 06 will load: .keras reloads safely, TFLite predicts like Keras."""
    import numpy as np

    from mnist_utils import data, export, predict

    layout, _, _ = smoke
    out = layout.artifacts / "05_cnn"
    best = json.loads((out / "metrics.json").read_text())["best"]
    model = predict.load_model(out / best["keras"])  # safe_mode=True
    x = data.split(data.load_mnist(download=False)).x_test[:500]
    keras_probs = model.predict(x, verbose=0)
    np.testing.assert_allclose(keras_probs, np.load(out / "best_cnn_test_probs.npy")[:500], atol=1e-5)
    float_probs = export.tflite_predict(out / best["tflite_float32"], x, batch_size=128)
    np.testing.assert_allclose(float_probs, keras_probs, atol=1e-4)
    int8_probs = export.tflite_predict(out / best["tflite_int8"], x, batch_size=128)
    assert np.mean(int8_probs.argmax(1) == keras_probs.argmax(1)) > 0.9
    assert (out / best["tflite_int8"]).stat().st_size < (out / best["tflite_float32"]).stat().st_size


def test_executed_notebooks_hold_no_log_lines_or_errors(smoke):
    layout, _, _ = smoke
    for path in layout.executed.glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            for out in cell.get("outputs", []):
                assert out.output_type != "error", path.name
                if out.output_type == "stream":
                    assert out.name != "stderr", f"{path.name}: {out.text[:200]}"
                    assert not LOG_NOISE.search(out.text), f"{path.name}: {out.text[:200]}"


def test_every_table_keeps_its_number_format(smoke):
    """No table of the run shows a float with six trailing digits (pandas' default, the sign that a
    column's numbers became objects and lost their format), such as a p-value as 0.000000."""
    layout, _, _ = smoke
    tables = 0
    for path in sorted(layout.executed.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for out in cell.get("outputs", []):
                html = out.get("data", {}).get("text/html", "")
                if "<table" in html:
                    tables += 1
                    assert not re.search(r">\s*-?\d+\.\d{6}\s*<", html), (path.name, html[:400])
    assert tables >= 10


def test_executed_copies_read_as_prose_with_numbers_in_one_language(smoke):
    """What a reader opens in report/executed/ (English) and report/executed/zh/: the prose filled in,
    captions numbered, references resolved, and the parameters pointing at the real artifacts."""
    from mnist_utils import i18n
    from mnist_utils.book import prose

    layout, _, _ = smoke
    cnn = json.loads((layout.artifacts / "05_cnn" / "metrics.json").read_text())
    ours = prose.pm(cnn["ours"]["test_accuracy"])
    for language in ("en", "zh"):
        figures = 0
        for path in pipeline.discover(layout.rendered(language)):
            nb = nbformat.read(path, as_version=4)
            markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
            for text in markdown:
                assert not re.search(r"\{\{|\{%|\[@|\{#(fig|tab):", text), (path.name, text[:100])
                assert i18n.has_chinese(text) == (language == "zh") or not re.search(r"[A-Za-z]{4}", text), text[:100]
                # The smoke run's counts are the edge values (one seed, one pair): no "0 of" or "有 0 个".
                assert not re.search(r"\b(in|of) 0(?![.,\d])|\b0 of\b|有 0 个|其中 0 个", text), (path.name, text[:200])
            figures += sum(bool(re.match(r"\*\*(Figure|图) \d+", t)) for t in markdown)
            injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
            assert f'output_dir = "{layout.artifacts / path.stem}"' in injected.source
            if path.stem == "05_cnn":
                assert any(ours in text for text in markdown)  # a number from metrics.json, in a sentence
        assert figures >= 20


def test_the_timed_notebooks_say_on_how_many_cores_they_ran(smoke):
    """02 and 03 report seconds per epoch: their text names the cores the run record says they had
    (their share of the machine's where they ran side by side, pinned), in both languages."""
    layout, record, _ = smoke
    for stem in ("02_mlp_baseline", "03_optimizers_activations"):
        cores = record["notebooks"][stem]["cores"]
        assert cores == len(os.sched_getaffinity(0)) // record["notebooks"][stem]["jobs"]
        said = {"en": f"on {cores} core{'s' if cores > 1 else ''}", "zh": f"{cores} 个 CPU 核心上"}
        for language, phrase in said.items():
            nb = nbformat.read(layout.rendered(language) / f"{stem}.ipynb", as_version=4)
            text = [" ".join(c.source.split()) for c in nb.cells if c.cell_type == "markdown"]  # lines joined
            assert any(phrase in t for t in text), (stem, language)


def test_our_cnn_trains_in_bfloat16_exactly_where_the_cpu_has_it(smoke):
    """05 records the precision our CNN trained in (mixed bfloat16 where this CPU has bfloat16
    instructions, float32 elsewhere; no GPU here), and its text says so in both languages only then."""
    from mnist_utils import training

    layout, _, _ = smoke
    policy = json.loads((layout.artifacts / "05_cnn" / "metrics.json").read_text())["cnn_policy"]
    assert policy == ("mixed_bfloat16" if training.cpu_has_bfloat16() else "float32")
    said = {"en": ("train in mixed bfloat16", "float32 copy"), "zh": ("以混合 bfloat16", "float32 副本")}
    for language, (trained, exported) in said.items():
        nb = nbformat.read(layout.rendered(language) / "05_cnn.ipynb", as_version=4)
        text = " ".join(" ".join(c.source.split()) for c in nb.cells if c.cell_type == "markdown")
        assert (trained in text) == (policy == "mixed_bfloat16"), language
        assert (exported in text) == (policy != "float32"), language


def test_html_is_self_contained_with_every_section(smoke):
    layout, _, _ = smoke
    html = (layout.report / "mnist_report.html").read_text()
    for path in pipeline.discover(layout.executed):
        title = nbformat.read(path, as_version=4).cells[0].source.splitlines()[0].lstrip("# ")
        assert f">{title}<" in html.replace('<a class="anchor-link"', "<")
    assert "Appendix: reproducibility" in html and "report-toc" in html
    assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", html)  # nothing from the network
    assert "window.MathJax" in html and "data:image/png;base64" in html
    # The figures' base64 text is left out: 4 random base64 characters spell "cuda" about once in 17 million.
    body = re.sub(
        r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", "", html.split("<script>window.MathJax")[0].split("<main>")[-1]
    )
    assert not LOG_NOISE.search(body)


def test_pdf_has_pages_and_text(smoke):
    layout, _, _ = smoke
    reader = PdfReader(layout.report / "mnist_report.pdf")
    assert len(reader.pages) >= 5
    text = "\n".join(page.extract_text() for page in reader.pages)
    for expected in (
        "Contents",
        "The MNIST data",
        "A baseline multilayer perceptron",
        "Optimizers and activations",
        "Regularization and capacity",
        "Convolutional networks",
        "Error analysis and robustness",
        "Appendix: reproducibility",
        "Table 1",
        "Abstract.",
        "Keywords:",
        "Conclusions and outlook",
        "References",
        "LeCun",
    ):
        assert expected in text
    # The abstract's numbers are the run's: the baseline's mean test accuracy, as metrics.json has it.
    baseline = json.loads((layout.artifacts / "02_mlp_baseline" / "metrics.json").read_text())
    assert f"{100 * baseline['test_accuracy']['mean']:.2f} %" in reader.pages[1].extract_text()
    assert "I0000" not in text and "Figure size" not in text


def test_figures_and_tables_are_numbered_and_cross_references_resolve(smoke):
    layout, _, _ = smoke
    text = "\n".join(page.extract_text() for page in PdfReader(layout.report / "mnist_report.pdf").pages)
    html = (layout.report / "mnist_report.html").read_text()
    for kind, least in (("Figure", 20), ("Table", 10)):
        in_pdf = [int(n) for n in re.findall(rf"{kind} (\d+):", text)]  # the captions, as LaTeX numbered them
        assert in_pdf == list(range(1, len(in_pdf) + 1)) and len(in_pdf) >= least, (kind, in_pdf)
        assert [int(n) for n in re.findall(rf"<b>{kind} (\d+)\.", html)] == in_pdf  # the same numbers, in order
    # 07's claim tables, written in markdown, are captioned and numbered like the others, in the PDF too.
    last = re.findall(r"Table (\d+): Course paper (\d{3}) \(", text)
    assert [p for _, p in last] == ["000", "001", "002", "003"] and int(last[-1][0]) == in_pdf[-1], last
    assert "[@" not in text and "[@" not in html.split("<main>")[-1]  # (MathJax's own code has some)
    # 01's third figure is its class means; the prose cites it by number.
    assert "The mean image of each class (Figure 3)" in html


@pytest.fixture(scope="module")
def chinese(smoke):
    """The Chinese edition of the same run: (layout, its paths, what had no translation)."""
    layout, _, _ = smoke
    problems = []
    paths, built = report.build(
        layout, pipeline.default_layout().params / "report.yaml", language="zh", warn=problems.append
    )
    assert built
    return layout, paths, problems


def test_chinese_edition_is_built_from_the_same_run(chinese):
    layout, paths, problems = chinese
    assert problems == []  # every output has its Chinese edition and no figure lost a glyph
    assert [p.name for p in paths] == ["mnist_report_zh.html", "mnist_report_zh.pdf"]
    reader = PdfReader(paths[1])
    text = "\n".join(page.extract_text() for page in reader.pages)
    for expected in (
        "基于 MNIST 的手写数字识别",
        "学生姓名",
        "完成日期",
        "摘要",
        "关键词",
        "目录",
        "MNIST 数据",
        "基线多层感知机",
        "优化器与激活函数",
        "正则化与容量",
        "卷积网络",
        "误差分析与鲁棒性",
        "总结与展望",
        "参考文献",
        "附录：可复现性",
        "LeCun",
    ):
        assert expected in text, expected
    for english in ("The MNIST data", "Contents", "Abstract", "Figure 1", "Table 1", "Takeaways"):
        assert english not in text, english
    # The numbers are the run's, as in the English edition.
    baseline = json.loads((layout.artifacts / "02_mlp_baseline" / "metrics.json").read_text())
    assert f"{100 * baseline['test_accuracy']['mean']:.2f} %" in reader.pages[1].extract_text()
    # The English edition is untouched and still up to date.
    _, built = report.build(layout, pipeline.default_layout().params / "report.yaml")
    assert not built


def test_chinese_figures_and_tables_are_numbered_and_cross_references_resolve(chinese):
    _, paths, _ = chinese
    html = paths[0].read_text()
    assert '<html lang="zh">' in html
    for kind, least in (("图", 20), ("表", 10)):
        numbers = [int(n) for n in re.findall(rf"<b>{kind} (\d+)\u3000", html)]
        assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= least, (kind, numbers)
    body = html.split("<main>")[-1]
    assert "[@" not in body and "每一类的平均图像（图 3）" in body
    text = "\n".join(page.extract_text() for page in PdfReader(paths[1]).pages)
    assert "[@" not in text and "图 3" in text and "表 1" in text
    assert len(re.findall(r"<b>表 \d+\u3000</b>课程论文 00\d（", html)) == 4  # 07's claim tables


def test_the_course_papers_part_checks_every_claim_in_both_editions(chinese):
    """Notebook 07: one table per paper listing every claim of the data file with a verdict, in both
    editions of the report; the tally that the abstract states is the table's."""
    from mnist_utils import papers
    from mnist_utils.book import prose

    layout, zh_paths, _ = chinese
    claims = papers.load()
    count = sum(len(p["claims"]) for p in claims.values())
    tally = json.loads((layout.artifacts / "07_course_papers" / "metrics.json").read_text())["tally"]
    assert tally["claims"] == count == sum(len(tally[v]) for v in papers.VERDICTS)
    # Arithmetic, whatever the profile: paper 001's F1 and paper 003's step count cannot be.
    assert {"001.f1", "003.steps_per_epoch"} <= set(tally["impossible"])
    # The smoke profile trains paper 000's MLPs for fewer epochs than the paper: the verdicts say so.
    assert {"000.relu_sigmoid", "000.regularized_better"} <= set(tally["departs"])
    for language, header, verdicts in (
        (
            "en",
            "| Claim, in our words |",
            r"\*\*(reproduced|not reproduced|cannot be checked (?:as stated|within the study's budget)"
            r"|impossible as stated)\*\*",
        ),
        (
            "zh",
            "| 论断（我们的表述） |",
            r"\*\*(复现|未复现|按原文无法检验|在本研究的预算内无法检验|按原文不可能成立)\*\*",
        ),
    ):
        nb = nbformat.read(layout.rendered(language) / "07_course_papers.ipynb", as_version=4)
        tables = [c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith(header)]
        rows = [row for t in tables for row in t.splitlines()[2:]]
        assert len(tables) == len(claims) and len(rows) == count
        assert all(len(re.findall(verdicts, row)) == 1 for row in rows), rows
        departs = [
            row
            for row in rows
            if re.search(r"judged after \d+ epochs? \(the paper: 5\)|判定时训练 \d+ 轮（论文：5）", row)
        ]
        assert len(departs) == 2, rows  # ReLU against sigmoid and against tanh
    html = (layout.report / "mnist_report.html").read_text()
    assert ">The course papers, claim by claim<" in html.replace('<a class="anchor-link"', "<")
    assert f"Of {count} claims checked in {len(claims)} course papers on MNIST, {len(tally['reproduced'])} hold" in html
    text = "\n".join(page.extract_text() for page in PdfReader(layout.report / "mnist_report.pdf").pages)
    assert "The course papers, claim by claim" in text and "impossible as stated" in text and "Course paper 003" in text
    zh_html = zh_paths[0].read_text()
    assert "按原文不可能成立" in zh_html and "论断（我们的表述）" in zh_html
    assert prose.render_text("{{ claim_name('001.f1') }}", {}, "zh") in zh_html  # named in the abstract
    assert "逐条检验课程论文" in "\n".join(page.extract_text() for page in PdfReader(zh_paths[1]).pages)


def test_failing_notebook_stops_the_run_and_keeps_earlier_outputs(notebook_factory, tmp_path):
    from conftest import RUNNER_CELL

    notebook_factory("01_ok.ipynb", body=["print('fine')"])
    notebook_factory(
        "02_boom.ipynb", RUNNER_CELL + "divisor: int = 1  # what to divide by\n", body=["x = 1", "1 / divisor"]
    )
    params = tmp_path / "params"
    params.mkdir()
    (params / "ok.yaml").write_text("notebooks: {}\n")
    (params / "bad.yaml").write_text("notebooks:\n  02_boom:\n    divisor: 0\n")
    layout = pipeline.Layout(notebook_factory.folder, params, tmp_path / "report")
    pipeline.run("ok", layout=layout, log=lambda _: None)
    good = (layout.executed / "02_boom.ipynb").read_bytes()
    with pytest.raises(pipeline.PipelineError) as err:
        pipeline.run("bad", layout=layout, log=lambda _: None)
    message = str(err.value)
    assert "02_boom.ipynb failed in cell" in message and "ZeroDivisionError" in message
    assert (layout.executed / "02_boom.ipynb").read_bytes() == good  # previous output intact
    assert (layout.failed / "02_boom.ipynb").is_file()
    assert json.loads(layout.run_record.read_text())["notebooks"]["02_boom"]["parameters"] == {"divisor": 1}


# Incremental runs. These change the shared smoke outputs, so they come last, in this order.


def _run(layout) -> dict:
    return pipeline.run("smoke", layout=layout, log=lambda _: None)["this_run"]


def _edited(layout, tmp_path, stem, edit):
    """A layout whose notebooks are copies of the real ones, with ``edit(nb)`` applied to one."""
    folder = tmp_path / "notebooks"
    shutil.copytree(layout.notebooks, folder)
    path = folder / f"{stem}.ipynb"
    nb = nbformat.read(path, as_version=4)
    edit(nb)
    nbformat.write(nb, path)
    return pipeline.Layout(folder, layout.params, layout.report)


def _up_to_date_except(states: dict, changed: dict) -> bool:
    stems = [p.stem for p in pipeline.discover(pipeline.default_layout().notebooks)]
    return states == {stem: changed.get(stem, "up to date") for stem in stems}


def test_a_second_run_executes_nothing_and_keeps_the_report(smoke):
    layout, _, _ = smoke
    record = layout.run_record.read_bytes()
    assert _up_to_date_except(_run(layout), {})
    assert layout.run_record.read_bytes() == record
    paths, built = report.build(layout, pipeline.default_layout().params / "report.yaml")
    assert not built and all(p.is_file() for p in paths)


def test_new_report_settings_rebuild_the_report_without_running_notebooks(smoke, tmp_path):
    import yaml

    layout, _, _ = smoke
    real = pipeline.default_layout().params / "report.yaml"
    settings = {
        **yaml.safe_load(real.read_text()),
        "subtitle": "Rebuilt from unchanged notebooks",
        "author": "Li Hua",
        "student_id": 2023123456,
        "major_class": "Computer Science 2",
        "include_code": True,
    }
    (tmp_path / "report.yaml").write_text(yaml.safe_dump(settings))
    _, built = report.build(layout, tmp_path / "report.yaml")
    assert built
    text = PdfReader(layout.report / "mnist_report.pdf").pages[0].extract_text()  # the cover
    for expected in (
        "Rebuilt from unchanged notebooks",
        "Student ID",
        "2023123456",
        "Major and class",
        "Computer Science 2",
        "Li Hua",
    ):
        assert expected in text
    assert "<th>Student ID</th><td>2023123456</td>" in (layout.report / "mnist_report.html").read_text()
    # The code, when asked for, is an appendix; the body still shows outputs only.
    text = "\n".join(page.extract_text() for page in PdfReader(layout.report / "mnist_report.pdf").pages)
    assert "Appendix: code" in text and "display.figure(fig" in text
    html = (layout.report / "mnist_report.html").read_text()
    code = '<span class="n">display</span><span class="o">.</span><span class="n">figure</span>'  # highlighted
    assert html.index("Appendix: code") < html.index(code)
    assert _up_to_date_except(_run(layout), {})


def test_a_text_edit_refreshes_the_executed_notebook_without_running_it(smoke, tmp_path):
    layout, _, _ = smoke
    edited = _edited(
        layout,
        tmp_path,
        "04_regularization",
        lambda nb: nb.cells.insert(3, nbformat.v4.new_markdown_cell("A sentence added later.")),
    )
    executed = layout.executed / "04_regularization.ipynb"
    outputs = [c.get("outputs") for c in nbformat.read(executed, as_version=4).cells if c.cell_type == "code"]
    assert _up_to_date_except(_run(edited), {"04_regularization": "refreshed"})
    now = nbformat.read(executed, as_version=4)
    assert "A sentence added later." in [c.source for c in now.cells]
    chinese = nbformat.read(layout.rendered("zh") / executed.name, as_version=4)
    assert "A sentence added later." in [c.source for c in chinese.cells]  # untranslated yet: shown in English
    assert [c.get("outputs") for c in now.cells if c.cell_type == "code"] == outputs
    # Both editions rebuild side by side and carry the sentence (the Chinese one in English, until translated).
    editions = report.build_editions(edited, pipeline.default_layout().params / "report.yaml")
    assert [[p.name for p in paths] for paths, _ in editions] == [
        ["mnist_report.html", "mnist_report.pdf"],
        ["mnist_report_zh.html", "mnist_report_zh.pdf"],
    ]
    for (html, pdf), built in editions:
        assert built and "A sentence added later." in html.read_text(encoding="utf-8")
        assert "A sentence added later." in "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert _up_to_date_except(_run(layout), {"04_regularization": "refreshed"})  # and back


def test_a_translation_edit_executes_nothing_and_reaches_the_chinese_report(smoke, tmp_path):
    import yaml

    layout, _, _ = smoke
    folder = tmp_path / "notebooks"
    shutil.copytree(layout.notebooks, folder)
    edited = pipeline.Layout(folder, layout.params, layout.report)
    path = folder / "zh" / "04_regularization.yaml"
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    first = next(iter(entries))
    entries[first]["zh"] = entries[first]["zh"].replace("\n", "\n\n后来加上的一句话。\n", 1)
    path.write_text(yaml.safe_dump(entries, allow_unicode=True), encoding="utf-8")
    assert _up_to_date_except(_run(edited), {})  # nothing executes
    rendered = nbformat.read(layout.rendered("zh") / "04_regularization.ipynb", as_version=4)
    assert any("后来加上的一句话。" in c.source for c in rendered.cells)
    paths, built = report.build(edited, pipeline.default_layout().params / "report.yaml", language="zh")
    assert built and "后来加上的一句话。" in paths[0].read_text()
    assert _up_to_date_except(_run(layout), {})  # and back
    report.build(layout, pipeline.default_layout().params / "report.yaml", language="zh")


def test_a_failed_run_re_executes_on_the_next_run(smoke, tmp_path):
    layout, _, _ = smoke
    fail = nbformat.v4.new_code_cell("raise RuntimeError('simulated failure')")
    edited = _edited(layout, tmp_path, "05_cnn", lambda nb: nb.cells.insert(2, fail))
    entry = json.loads(layout.run_record.read_text())["notebooks"]["05_cnn"]
    for _ in range(2):  # not marked up to date by the failure: it runs (and fails) again
        with pytest.raises(pipeline.PipelineError, match="simulated failure"):
            _run(edited)
        assert json.loads(layout.run_record.read_text())["notebooks"]["05_cnn"] == entry
    assert _up_to_date_except(_run(layout), {})  # the earlier outputs are intact


def test_a_code_edit_re_executes_and_identical_results_spare_the_readers(smoke, tmp_path):
    layout, _, _ = smoke
    metrics = (layout.artifacts / "02_mlp_baseline" / "metrics.json").read_bytes()
    code = lambda nb: [c for c in nb.cells if c.cell_type == "code"][-1]  # noqa: E731
    edited = _edited(
        layout, tmp_path, "02_mlp_baseline", lambda nb: setattr(code(nb), "source", code(nb).source + "\n# x")
    )
    # Same seed, same profile: byte-identical metrics and predictions, so 03 and 06 stay.
    assert _up_to_date_except(_run(edited), {"02_mlp_baseline": "executed"})
    assert (layout.artifacts / "02_mlp_baseline" / "metrics.json").read_bytes() == metrics


def test_changed_results_re_execute_the_notebooks_that_read_them(smoke, tmp_path):
    layout, _, _ = smoke
    params = lambda nb: next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))  # noqa: E731
    edited = _edited(
        layout,
        tmp_path,
        "02_mlp_baseline",
        lambda nb: setattr(
            params(nb),
            "source",
            params(nb).source.replace("learning_rate: float = 0.001", "learning_rate: float = 0.002"),
        ),
    )
    assert _up_to_date_except(
        _run(edited),
        {
            "02_mlp_baseline": "executed",
            "03_optimizers_activations": "executed",
            "06_error_analysis": "executed",
            "07_course_papers": "executed",
        },
    )


def test_an_executed_copy_re_runs_in_place_and_writes_to_the_report(smoke):
    """JupyterLab's Restart Kernel and Run All on report/executed/01_data.ipynb, done with nbclient."""
    from nbclient import NotebookClient

    layout, _, _ = smoke
    metrics = layout.artifacts / "01_data" / "metrics.json"
    before = metrics.read_bytes()
    metrics.unlink()
    nb = nbformat.read(layout.executed / "01_data.ipynb", as_version=4)
    NotebookClient(
        nb, kernel_name=KERNEL_NAME, timeout=600, resources={"metadata": {"path": str(layout.executed)}}
    ).execute()
    assert metrics.read_bytes() == before  # written again, where the runner wrote it, with the same numbers
    assert not any(o.output_type == "error" for c in nb.cells for o in c.get("outputs", []))


def test_papermill_from_the_project_root_writes_inside_the_project(tmp_path, monkeypatch):
    """Default paths resolve from the project folder, not from the working directory."""
    import papermill

    root = pipeline.project_root()
    target = root / "report" / "artifacts" / "01_data"
    kept = tmp_path / "kept"
    if target.exists():
        shutil.move(target, kept)  # a real run's artifacts, put back below
    monkeypatch.chdir(root)
    try:
        papermill.execute_notebook(
            "notebooks/01_data.ipynb",
            str(tmp_path / "out.ipynb"),
            kernel_name=KERNEL_NAME,
            parameters={"samples_per_class": 5},
            progress_bar=False,
        )
        assert (target / "metrics.json").is_file()
        assert not (root.parent / "report" / "artifacts" / "01_data").exists()
    finally:
        shutil.rmtree(target, ignore_errors=True)
        if kept.exists():
            shutil.move(kept, target)
