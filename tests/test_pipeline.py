"""Notebook discovery and the profile checks that run before any notebook executes."""

import json
import os

import nbformat
import pytest
from conftest import RUNNER_CELL, wait_for

from mnist_utils import validation
from mnist_utils.book import execute, notebooks, pipeline, record


def test_discover_orders_by_prefix_and_ignores_others(notebook_factory):
    for name in ("10_later.ipynb", "02_b.ipynb", "01_a.ipynb", "scratch.ipynb", "3_bad.ipynb"):
        notebook_factory(name)
    assert [p.name for p in pipeline.discover(notebook_factory.folder)] == [
        "01_a.ipynb",
        "02_b.ipynb",
        "10_later.ipynb",
    ]


def test_declared_parameters_reads_types_defaults_and_help(notebook_factory):
    nb = notebook_factory("01_a.ipynb", RUNNER_CELL + "seeds: list[int] = [0, 1]  # runs\nlr: float = 0.1  # step\n")
    declared = notebooks.declared_parameters(nb)
    assert declared["seeds"] == {"type": "list[int]", "default": [0, 1], "help": "runs", "rules": ""}
    assert declared["lr"]["default"] == 0.1


def test_missing_parameters_cell_is_an_error(notebook_factory):
    nb = notebook_factory("01_a.ipynb", "x: int = 1  # a", tag="not-parameters")
    with pytest.raises(pipeline.PipelineError, match=r"01_a.ipynb: no cell tagged 'parameters'"):
        notebooks.declared_parameters(nb)


@pytest.mark.parametrize("line", ["x = 1  # no type", "x: int = len('a')  # computed", "print(1)"])
def test_parameters_cell_holds_only_typed_plain_values(notebook_factory, line):
    nb = notebook_factory("01_a.ipynb", RUNNER_CELL + line + "\n")
    with pytest.raises(pipeline.PipelineError, match="01_a.ipynb"):
        notebooks.declared_parameters(nb)


def _resolve(notebook_factory, profile):
    notebook_factory("01_a.ipynb", RUNNER_CELL + "epochs: int = 10  # passes\nlr: float = 0.1  # step\n")
    notebook_factory("02_b.ipynb")
    return pipeline.resolve_parameters(pipeline.discover(notebook_factory.folder), profile)


def test_profile_overrides_defaults(notebook_factory):
    resolved = _resolve(notebook_factory, {"01_a": {"epochs": 2, "lr": 1}})
    assert resolved["01_a"] == {"epochs": 2, "lr": 1}
    assert resolved["02_b"] == {}


def test_undeclared_parameter_names_notebook_and_parameter(notebook_factory):
    with pytest.raises(pipeline.PipelineError, match=r"01_a.ipynb: unknown parameter 'epoch'"):
        _resolve(notebook_factory, {"01_a": {"epoch": 2}})


@pytest.mark.parametrize("value", ["2", 2.5, True, None])
def test_wrong_type_names_notebook_parameter_and_type(notebook_factory, value):
    with pytest.raises(
        pipeline.PipelineError, match=r"01_a\.ipynb: epochs = .+: must be int, not (str|float|bool|NoneType)"
    ):
        _resolve(notebook_factory, {"01_a": {"epochs": value}})


def test_runner_parameters_cannot_come_from_a_profile(notebook_factory):
    with pytest.raises(pipeline.PipelineError, match="'output_dir' is set by the runner"):
        _resolve(notebook_factory, {"01_a": {"output_dir": "/tmp"}})


def test_profile_section_for_unknown_notebook(notebook_factory):
    with pytest.raises(pipeline.PipelineError, match="'03_c' matches no notebook"):
        _resolve(notebook_factory, {"03_c": {}})


def test_all_problems_are_listed_at_once(notebook_factory):
    with pytest.raises(pipeline.PipelineError) as err:
        _resolve(notebook_factory, {"01_a": {"epochs": "x", "nope": 1}, "02_b": {"lr": 1.0}})
    assert str(err.value).count("\n  - ") == 3


def test_notebook_must_declare_runner_parameters(notebook_factory):
    notebook_factory("01_a.ipynb", "epochs: int = 1  # passes\n")
    with pytest.raises(pipeline.PipelineError, match="must declare profile, artifacts_dir, output_dir"):
        pipeline.resolve_parameters(pipeline.discover(notebook_factory.folder), {})


def test_check_type_accepts_int_for_float_and_generic_lists():
    assert validation.check_type(1, "float") and validation.check_type([1], "list[int]")
    assert not validation.check_type(True, "int") and not validation.check_type(1.0, "int")


def test_select_by_number_or_name(notebook_factory):
    for name in ("01_a.ipynb", "02_b.ipynb", "03_c.ipynb"):
        notebook_factory(name)
    found = pipeline.discover(notebook_factory.folder)
    assert [p.stem for p in pipeline.select(found, ["2", "03_c"])] == ["02_b", "03_c"]
    assert pipeline.select(found, None) == found
    with pytest.raises(pipeline.PipelineError, match="07: no such notebook"):
        pipeline.select(found, ["07"])


def test_load_profile_errors(tmp_path):
    (tmp_path / "full.yaml").write_text("notebooks: {}\n")
    (tmp_path / "bad.yaml").write_text("notebook: {}\n")
    (tmp_path / "broken.yaml").write_text("notebooks: [\n")
    assert notebooks.load_profile(tmp_path, "full") == {}
    with pytest.raises(pipeline.PipelineError, match="Unknown profile 'fast'.*Known: bad, broken, full"):
        notebooks.load_profile(tmp_path, "fast")
    with pytest.raises(pipeline.PipelineError, match="unknown top-level key"):
        notebooks.load_profile(tmp_path, "bad")
    with pytest.raises(pipeline.PipelineError, match="not valid YAML"):
        notebooks.load_profile(tmp_path, "broken")


def _chain(notebook_factory, tmp_path):
    """01 writes n; 02 reads it (declared); 03 reads nothing. Returns the layout."""
    notebook_factory(
        "01_w.ipynb",
        RUNNER_CELL + "n: int = 1  # value\n",
        body=[
            "from pathlib import Path\nfrom mnist_utils import artifacts\n"
            "artifacts.save_json(Path(output_dir) / 'n.json', {'n': n})"
        ],
    )
    reader = notebook_factory(
        "02_r.ipynb",
        body=[
            "import json\nfrom pathlib import Path\n"
            "print(json.loads((Path(artifacts_dir) / '01_w' / 'n.json').read_text()))"
        ],
    )
    _set_reads(reader, ["01_w/n.json"])
    notebook_factory("03_x.ipynb", body=["print('independent')"])
    params = tmp_path / "params"
    params.mkdir()
    (params / "p.yaml").write_text("notebooks: {}\n")
    (params / "q.yaml").write_text("notebooks: {}\n")
    return pipeline.Layout(notebook_factory.folder, params, tmp_path / "report")


def _set_reads(path, reads):
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nb.metadata["mnist_study"] = {"reads": reads}
    nbformat.write(nb, path)


def _states(layout, profile="p", **kw):
    return pipeline.run(profile, layout=layout, log=lambda _: None, **kw)["this_run"]


def _cli_run_in_background(layout, profile="p"):
    """`mnist-study run --profile PROFILE` on ``layout``'s folders, in a process of its own (to be
    interrupted as a terminal interrupts it); its output is piped."""
    import subprocess
    import sys

    script = (
        "import sys\nfrom mnist_utils.book import cli\n"
        f"sys.exit(cli.main(['run', '--profile', {profile!r}, '--notebooks', {str(layout.notebooks)!r}, "
        f"'--params', {str(layout.params)!r}, '--report-dir', {str(layout.report)!r}]))\n"
    )
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_second_run_executes_nothing_and_changes_flow_downstream(notebook_factory, tmp_path):
    layout = _chain(notebook_factory, tmp_path)
    assert set(_states(layout).values()) == {"executed"}
    record = layout.run_record.read_bytes()
    assert set(_states(layout).values()) == {"up to date"}
    assert layout.run_record.read_bytes() == record  # nothing ran: the record is untouched
    # A parameter changes 01's artifact, so its reader re-runs; 03 does not.
    (layout.params / "p.yaml").write_text("notebooks:\n  01_w:\n    n: 2\n")
    assert _states(layout) == {"01_w": "executed", "02_r": "executed", "03_x": "up to date"}
    assert "{'n': 2}" in (layout.executed / "02_r.ipynb").read_text()
    # --only re-runs the notebook and its readers; --force re-runs all.
    assert _states(layout, only=["1"]) == {"01_w": "executed", "02_r": "executed"}
    assert _states(layout, only=["3"]) == {"03_x": "executed"}
    assert set(_states(layout, force=True).values()) == {"executed"}
    assert set(_states(layout, "q").values()) == {"executed"}  # notebooks receive the profile's name


def test_an_unchanged_upstream_artifact_leaves_its_readers_alone(notebook_factory, tmp_path):
    import nbformat

    layout = _chain(notebook_factory, tmp_path)
    _states(layout)
    path = notebook_factory.folder / "01_w.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[-1].source += "\n# same result"
    nbformat.write(nb, path)
    assert _states(layout) == {"01_w": "executed", "02_r": "up to date", "03_x": "up to date"}


def test_a_text_edit_is_copied_in_without_execution(notebook_factory, tmp_path):
    import nbformat

    layout = _chain(notebook_factory, tmp_path)
    _states(layout)
    path = notebook_factory.folder / "02_r.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source += "\nA new sentence."
    nb.cells.append(nbformat.v4.new_markdown_cell("A new closing paragraph."))
    nbformat.write(nb, path)
    assert _states(layout) == {"01_w": "up to date", "02_r": "refreshed", "03_x": "up to date"}
    executed = nbformat.read(layout.executed / "02_r.ipynb", as_version=4)
    assert "A new sentence." in executed.cells[0].source
    assert executed.cells[-1].source == "A new closing paragraph."
    outputs = [c for c in executed.cells if c.cell_type == "code" and c.outputs]
    assert "{'n': 1}" in outputs[-1].outputs[0].text  # the code's output survives
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    assert set(_states(layout).values()) == {"up to date"}


def test_edited_or_deleted_outputs_are_rebuilt(notebook_factory, tmp_path):
    layout = _chain(notebook_factory, tmp_path)
    _states(layout)
    (layout.artifacts / "01_w" / "n.json").write_text('{"n": 99}')
    (layout.executed / "03_x.ipynb").unlink()
    assert _states(layout) == {"01_w": "executed", "02_r": "up to date", "03_x": "executed"}


def test_a_failed_run_is_never_marked_up_to_date(notebook_factory, tmp_path):
    import nbformat

    layout = _chain(notebook_factory, tmp_path)
    _states(layout)
    path = notebook_factory.folder / "03_x.ipynb"
    original = path.read_bytes()
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("raise RuntimeError('simulated failure')"))
    nbformat.write(nb, path)
    for _ in range(2):  # it fails again rather than being skipped as done
        with pytest.raises(pipeline.PipelineError, match="simulated failure"):
            _states(layout)
    path.write_bytes(original)  # the earlier outputs are intact and match the original source
    assert set(_states(layout).values()) == {"up to date"}


def test_an_undeclared_read_fails_and_a_missing_one_is_named(notebook_factory, tmp_path):
    layout = _chain(notebook_factory, tmp_path)
    _set_reads(notebook_factory.folder / "02_r.ipynb", [])
    with pytest.raises(pipeline.PipelineError, match="FileNotFoundError"):
        _states(layout)  # 02 sees only what it declares, so the cache cannot miss a read
    _set_reads(notebook_factory.folder / "02_r.ipynb", ["01_w/missing.json"])
    with pytest.raises(pipeline.PipelineError, match=r"02_r.ipynb reads 01_w/missing.json, which does not exist"):
        _states(layout)
    _set_reads(notebook_factory.folder / "02_r.ipynb", ["03_x/n.json"])
    with pytest.raises(pipeline.PipelineError, match="not an artifact of an earlier notebook"):
        _states(layout)


def test_two_jobs_respect_what_each_notebook_reads(notebook_factory, tmp_path):
    import datetime as dt

    layout = _chain(notebook_factory, tmp_path)
    notebook_factory("04_slow.ipynb", body=["import time\ntime.sleep(2)"])
    record = pipeline.run("p", layout=layout, log=lambda _: None, jobs=2)
    assert set(record["this_run"].values()) == {"executed"}
    assert all(record["notebooks"][s]["jobs"] == 2 for s in record["this_run"])
    runs = record["notebooks"]
    # 02 reads 01's artifact, so it cannot have started before 01 finished.
    started_02 = dt.datetime.fromisoformat(runs["02_r"]["finished"]) - dt.timedelta(seconds=runs["02_r"]["seconds"])
    assert started_02 >= dt.datetime.fromisoformat(runs["01_w"]["finished"]) - dt.timedelta(seconds=1)
    assert "{'n': 1}" in (layout.executed / "02_r.ipynb").read_text()
    assert not (layout.report / ".staging").exists()


def test_a_failure_among_parallel_notebooks_keeps_the_others(notebook_factory, tmp_path):
    layout = _chain(notebook_factory, tmp_path)
    boom = notebook_factory(
        "04_boom.ipynb", body=["import time\ntime.sleep(1)\nraise RuntimeError('simulated failure')"]
    )
    # Reading 01's artifact makes 04 wait for 01, like 02, which comes first in the queue:
    # so 02 has started when 04 fails, however slowly the kernels start.
    _set_reads(boom, ["01_w/n.json"])
    with pytest.raises(pipeline.PipelineError, match="04_boom.ipynb failed"):
        pipeline.run("p", layout=layout, log=lambda _: None, jobs=2)
    record = json.loads(layout.run_record.read_text())
    assert set(record["notebooks"]) == {"01_w", "02_r", "03_x"}  # the others finished and count as done
    assert (layout.failed / "04_boom.ipynb").is_file() and not (layout.report / ".staging").exists()
    said = []
    with pytest.raises(pipeline.PipelineError, match="04_boom.ipynb failed"):
        pipeline.run("p", layout=layout, log=said.append, jobs=2)  # only the failed one runs again
    # (in any order: with two jobs the longest by last time's seconds goes first)
    assert sorted(m for m in said if "up to date" in m) == [
        f"{s}: up to date, skipped" for s in ("01_w", "02_r", "03_x")
    ]


def test_profile_jobs_are_checked(tmp_path):
    (tmp_path / "a.yaml").write_text("jobs: 2\nnotebooks: {}\n")
    (tmp_path / "b.yaml").write_text("jobs: 0\nnotebooks: {}\n")
    assert pipeline.read_profile(tmp_path, "a") == {"notebooks": {}, "jobs": 2, "alone": []}
    with pytest.raises(pipeline.PipelineError, match="'jobs' must be a whole number"):
        pipeline.read_profile(tmp_path, "b")


def test_one_job_runs_in_order_and_more_jobs_start_what_others_read_first(notebook_factory, tmp_path):
    layout = _chain(notebook_factory, tmp_path)
    said = []
    pipeline.run("p", layout=layout, log=said.append, force=True)
    assert [m.split(":")[0] for m in said if m.endswith("...")] == ["01_w", "02_r", "03_x"]
    said.clear()
    notebook_factory("00_a.ipynb")  # read by no one: with two jobs, 01 (read by 02) starts first
    pipeline.run("p", layout=layout, log=said.append, force=True, jobs=2)
    assert next(m.split(":")[0] for m in said if m.endswith("...")) == "01_w"


def test_two_notebooks_with_one_number_are_refused_naming_both(notebook_factory):
    notebook_factory("01_data.ipynb")
    notebook_factory("01_data_mine.ipynb")
    notebook_factory("02_b.ipynb")
    with pytest.raises(pipeline.PipelineError, match="01_data.ipynb and 01_data_mine.ipynb share one"):
        pipeline.discover(notebook_factory.folder)


def test_a_removed_notebook_and_stray_copies_leave_the_record_and_the_executed_folder(notebook_factory, tmp_path):
    layout = _chain(notebook_factory, tmp_path)
    _states(layout)
    assert (layout.rendered("zh") / "03_x.ipynb").is_file()  # every notebook is rendered in each language
    (layout.executed / "07_stray.ipynb").write_text((layout.executed / "03_x.ipynb").read_text())
    for folder in (layout.executed, layout.rendered("zh")):  # what JupyterLab leaves beside an opened notebook
        (folder / ".ipynb_checkpoints").mkdir()
        (folder / ".ipynb_checkpoints" / "02_r-checkpoint.ipynb").write_text("{}")
    (notebook_factory.folder / "03_x.ipynb").unlink()
    said = []
    assert pipeline.run("p", layout=layout, log=said.append)["this_run"] == {"01_w": "up to date", "02_r": "up to date"}
    assert list(json.loads(layout.run_record.read_text())["notebooks"]) == ["01_w", "02_r"]
    assert sorted(p.name for p in layout.executed.rglob("*.ipynb")) == [
        "01_w.ipynb",
        "01_w.ipynb",
        "02_r-checkpoint.ipynb",
        "02_r-checkpoint.ipynb",
        "02_r.ipynb",
        "02_r.ipynb",
    ]
    assert not [m for m in said if "checkpoint" in m]  # JupyterLab's files are left alone, unmentioned
    assert any("03_x: its notebook is gone" in m for m in said) and any("07_stray.ipynb" in m for m in said)


def test_executed_copies_point_at_the_report_not_at_staging(notebook_factory, tmp_path):
    import nbformat

    layout = _chain(notebook_factory, tmp_path)
    _states(layout)
    nb = nbformat.read(layout.executed / "02_r.ipynb", as_version=4)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert f'artifacts_dir = "{layout.artifacts}"' in injected.source
    assert f'output_dir = "{layout.artifacts / "02_r"}"' in injected.source
    assert ".staging" not in nbformat.writes(nb)
    # Inside the project the paths are relative to it, as the parameters' defaults are.
    inside = pipeline.Layout(layout.notebooks, layout.params, pipeline.project_root() / "report")
    assert execute.path_parameters(inside, "02_r") == {
        "artifacts_dir": "report/artifacts",
        "output_dir": "report/artifacts/02_r",
    }


def test_a_template_naming_an_unpublished_value_stops_with_notebook_cell_and_name(notebook_factory, tmp_path):
    import nbformat

    layout = _chain(notebook_factory, tmp_path)
    _states(layout)
    path = notebook_factory.folder / "03_x.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("We reach {{ accuracy }}.", id="claim"))
    nbformat.write(nb, path)
    with pytest.raises(pipeline.PipelineError, match=r"03_x.ipynb, cell claim: uses the name 'accuracy'"):
        _states(layout)
    nb.cells[-1].source = "We reach {{ accuracy }}."
    nb.cells.insert(-1, nbformat.v4.new_code_cell("from mnist_utils import display\ndisplay.facts(accuracy=0.5)"))
    nbformat.write(nb, path)
    assert _states(layout)["03_x"] == "executed"
    rendered = nbformat.read(layout.executed / "03_x.ipynb", as_version=4)
    assert rendered.cells[-1].source == "We reach 0.5."


def test_a_sentence_built_in_code_stops_the_run_before_anything_executes(notebook_factory, tmp_path):
    """The house rules (conventions.problems) hold for every notebook the run would execute, new
    or the project's own: the run names notebook, cell and line, and executes nothing."""
    sentence = 'acc = 0.9\nprint(f"With batch 32 the MLP reaches {acc:.2%} on the test digits")'
    layout = _tiny_study(notebook_factory, tmp_path, body=[sentence])
    with pytest.raises(pipeline.PipelineError, match=r"01_a.ipynb, cell .+, line 2: a sentence built in code") as e:
        _states(layout)
    assert "nothing ran" in str(e.value) and not layout.executed.exists()
    notebook_factory("01_a.ipynb", body=["acc = 0.9", 'print(f"{acc:.2%}")'])  # a number alone is no sentence
    assert _states(layout)["01_a"] == "executed"


def test_params_lists_types_defaults_help_and_the_profile_s_values(capsys):
    from mnist_utils.book import cli

    assert cli.main(["params", "02", "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("02_mlp_baseline:\n")
    assert "  epochs: int = 10  # passes over the training set [at least 1]\n      smoke profile: 2\n" in out
    assert (
        "  batch_size: int = 128  # images per gradient step [at least 1]\n  learning_rate" in out
    )  # not set by smoke
    assert "output_dir" not in out  # the runner's own
    assert cli.main(["params", "99"]) == 1
    assert "99: no such notebook" in capsys.readouterr().err


def _tiny_study(notebook_factory, tmp_path, body=("x = 1",)):
    notebook_factory("01_a.ipynb", body=list(body))
    params = tmp_path / "params"
    params.mkdir(exist_ok=True)
    (params / "p.yaml").write_text("notebooks: {}\n")
    return pipeline.Layout(notebook_factory.folder, params, tmp_path / "report")


def test_a_second_run_on_the_same_report_folder_is_refused_at_once(notebook_factory, tmp_path):
    """A real run in another process holds the lock; a run or report build here is refused, naming it;
    a run into another report folder goes ahead."""
    import subprocess
    import sys

    layout = _tiny_study(notebook_factory, tmp_path, ["import time\ntime.sleep(8)"])
    script = (
        f"from pathlib import Path\nfrom mnist_utils.book import pipeline\n"
        f"pipeline.run('p', layout=pipeline.Layout(Path({str(layout.notebooks)!r}), Path({str(layout.params)!r}), "
        f"Path({str(layout.report)!r})), log=lambda _: None)\n"
    )
    other = subprocess.Popen([sys.executable, "-c", script])
    try:
        wait_for(lambda: (layout.report / ".lock").exists(), "the other run to take the lock")
        with pytest.raises(pipeline.PipelineError) as e:  # at once: report_lock does not wait for a lock
            pipeline.run("p", layout=layout, log=lambda _: None)
        assert f"is in use by process {other.pid} (`mnist-study run --profile p`, started " in str(e.value)
        from mnist_utils.book import report

        with pytest.raises(pipeline.PipelineError, match=f"in use by process {other.pid}"):
            report.build(layout, tmp_path / "settings.yaml")
        elsewhere = pipeline.Layout(layout.notebooks, layout.params, tmp_path / "report2")
        assert pipeline.run("p", layout=elsewhere, log=lambda _: None)["this_run"] == {"01_a": "executed"}
        assert other.wait(timeout=120) == 0  # the first run was not disturbed
    finally:
        other.kill()
    assert not (layout.report / ".lock").exists()


def test_a_lock_left_by_a_dead_process_is_taken_over_with_a_note(notebook_factory, tmp_path):
    import subprocess
    import sys

    layout = _tiny_study(notebook_factory, tmp_path)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    layout.report.mkdir(parents=True)
    (layout.report / ".lock").write_text(
        json.dumps(
            {
                "pid": int(gone.stdout),
                "command": "mnist-study run --profile full",
                "started": "2026-12-01T10:00:00+00:00",
            }
        )
    )
    said = []
    assert pipeline.run("p", layout=layout, log=said.append)["this_run"] == {"01_a": "executed"}
    assert said[0].startswith(
        f"note: taking over {layout.report / '.lock'}, left by process {gone.stdout.strip()} "
        f"(`mnist-study run --profile full`, started 2026-12-01T10:00:00+00:00), which no longer runs"
    )
    assert not (layout.report / ".lock").exists()


LOCK_TAKER = """
import os, sys, time
from pathlib import Path
from mnist_utils.book import pipeline
folder, name = Path(sys.argv[1]), sys.argv[2]

def say(outcome, text=""):  # written whole, then renamed: the parent never reads it half-written
    (folder / f".{name}.tmp").write_text(text)
    os.replace(folder / f".{name}.tmp", folder / f"{name}.{outcome}")

while not (folder / "go").exists():
    time.sleep(0.01)
try:
    with pipeline.report_lock(folder / "report", name, log=lambda _: None):
        say("won")
        while not (folder / "release").exists():
            time.sleep(0.01)
except pipeline.PipelineError as e:
    say("refused", str(e))
"""


def test_of_several_runs_taking_over_a_dead_lock_at_once_one_wins(tmp_path):
    import subprocess
    import sys

    (tmp_path / "report").mkdir()
    (tmp_path / "report" / ".lock").write_text(json.dumps({"pid": 999999999, "command": "gone"}))
    takers = [subprocess.Popen([sys.executable, "-c", LOCK_TAKER, str(tmp_path), f"taker{i}"]) for i in range(4)]
    try:
        (tmp_path / "go").write_text("")
        wait_for(lambda: len(list(tmp_path.glob("taker*.*"))) == 4, "every taker to win or be refused")
        assert len(list(tmp_path.glob("*.won"))) == 1
        for refused in tmp_path.glob("*.refused"):
            assert "report is in use by process" in refused.read_text()
        (tmp_path / "release").write_text("")
        assert [t.wait(timeout=60) for t in takers] == [0] * 4
    finally:
        for t in takers:
            t.kill()
    assert not (tmp_path / "report" / ".lock").exists()


@pytest.mark.parametrize("content", ["", '{"pid": 12'])
def test_an_empty_or_half_written_lock_of_a_live_run_is_not_taken_over(tmp_path, content):
    """The holder's process holds the file's lock before it writes its name in it: what the file
    says does not decide whether it is free."""
    import fcntl

    lock = tmp_path / ".lock"
    lock.write_text(content)
    with open(lock) as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # a live holder that has not written its name yet
        with pytest.raises(pipeline.PipelineError, match=r"is in use by process \? \(`\?`"):
            with pipeline.report_lock(tmp_path, "second", log=pytest.fail):
                pass
        assert lock.read_text() == content
    said = []
    with pipeline.report_lock(tmp_path, "second", log=said.append):  # the holder gone, the lock is free
        assert json.loads(lock.read_text())["command"] == "second"
    assert said == [] and not lock.exists()


def _kernels_of(report_dir) -> list[int]:
    """Processes whose environment points their progress into ``report_dir``: the run's kernels."""
    from pathlib import Path

    from mnist_utils import progress

    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if f"{progress.ENV}={report_dir}".encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:
            pass
    return found


@pytest.mark.parametrize("sig, jobs", [("SIGINT", 2), ("SIGTERM", 2), ("SIGINT", 1)])
def test_an_interrupt_stops_every_notebook_keeps_the_finished_and_the_next_run_does_the_rest(
    notebook_factory, tmp_path, sig, jobs
):
    """Ctrl-C (SIGINT, sent as a terminal sends it) or SIGTERM while two notebooks run side by side:
    exit 130 within seconds, no kernel left, the finished notebook kept, the others untouched."""
    import signal

    from conftest import RUNNER_CELL

    slow = [
        "import time\nfrom mnist_utils import progress\nprogress.report('sleeping')\n"
        "for _ in range(seconds):\n    time.sleep(1)"
    ]
    notebook_factory("01_fast.ipynb", body=["x = 1"])
    for name in ("02_slow", "03_slow"):
        notebook_factory(f"{name}.ipynb", RUNNER_CELL + "seconds: int = 120  # how long to sleep\n", body=slow)
    params = tmp_path / "params"
    params.mkdir()
    (params / "p.yaml").write_text(f"jobs: {jobs}\nnotebooks: {{}}\n")
    report_dir = tmp_path / "report"
    proc = _cli_run_in_background(pipeline.Layout(notebook_factory.folder, params, report_dir))
    try:
        staging = report_dir / ".staging"
        started = ("02_slow", "03_slow")[:jobs]  # with one job, 03 waits for 02
        wait_for(lambda: all((staging / n / "progress.json").exists() for n in started), "the slow notebooks to start")
        assert (report_dir / "executed" / "01_fast.ipynb").exists()
        proc.send_signal(getattr(signal, sig))
        out, err = proc.communicate(timeout=60)  # it stops promptly: the notebooks would sleep 120 s more
        assert proc.returncode == 130, (out, err)
    finally:
        proc.kill()
    assert "interrupted; kept 01_fast, which finished; 02_slow, 03_slow: stopped or not started" in err
    assert _kernels_of(report_dir) == []
    assert sorted(p.name for p in (report_dir / "executed").glob("*.ipynb")) == ["01_fast.ipynb"]
    assert not (report_dir / ".staging").exists() and not (report_dir / ".lock").exists()
    layout = pipeline.Layout(notebook_factory.folder, params, report_dir)
    (params / "p.yaml").write_text(f"jobs: {jobs}\nnotebooks:\n  02_slow: {{seconds: 0}}\n  03_slow: {{seconds: 0}}\n")
    assert pipeline.run("p", layout=layout, log=lambda _: None)["this_run"] == {
        "01_fast": "up to date",
        "02_slow": "executed",
        "03_slow": "executed",
    }


def test_p_changes_one_parameter_for_one_run_and_says_so(notebook_factory, tmp_path, capsys):
    """-p NN.PARAM=VALUE: parsed as YAML, checked like a profile value, recorded, and shown in the
    executed copy's note; without it the next run goes back to the profile."""
    from conftest import RUNNER_CELL

    from mnist_utils.book import cli

    notebook_factory(
        "01_a.ipynb",
        RUNNER_CELL + "n: int = 1  # how many\nseeds: list[int] = [0]  # seeds\n",
        body=["print(n, seeds)"],
    )
    params = tmp_path / "params"
    params.mkdir()
    (params / "p.yaml").write_text("notebooks: {}\n")
    report_dir = tmp_path / "report"
    args = [
        "run",
        "--profile",
        "p",
        "--notebooks",
        str(notebook_factory.folder),
        "--params",
        str(params),
        "--report-dir",
        str(report_dir),
    ]
    assert cli.main(args + ["-p", "01.n=3", "-p", "01_a.seeds=[4, 5]"]) == 0
    record = json.loads((report_dir / "artifacts" / "run.json").read_text())["notebooks"]["01_a"]
    assert record["overrides"] == {"n": 3, "seeds": [4, 5]} and record["parameters"] == {"n": 3, "seeds": [4, 5]}
    executed = nbformat.read(report_dir / "executed" / "01_a.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0]["text"] == "3 [4, 5]\n"
    assert any("For this run, `-p` changed `n` to `3`, `seeds` to `[4, 5]`" in c.source for c in executed.cells)
    capsys.readouterr()
    assert cli.main(args + ["-p", "01.n=three", "-p", "02.n=1", "-p", "01n=2"]) == 1
    err = capsys.readouterr().err
    assert "-p 02.n=1: 02: no such notebook" in err and "-p 01n=2: expected NOTEBOOK.PARAMETER=VALUE" in err
    assert cli.main(args + ["-p", "01.n=three"]) == 1
    assert "01_a.ipynb: n = 'three': must be int, not str" in capsys.readouterr().err
    assert cli.main(args + ["-p", "01.seeds=[0,"]) == 1
    assert "-p 01.seeds=[0,: the value is not YAML" in capsys.readouterr().err
    assert cli.main(args) == 0  # back to the profile: it runs again, without the note
    executed = nbformat.read(report_dir / "executed" / "01_a.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0]["text"] == "1 [0]\n" and not any("-p" in c.source for c in executed.cells)


def test_the_cli_skips_the_slow_iri_grammar_and_still_validates_notebooks():
    """mnist-study blocks rfc3987_syntax (1.4 s to import, for format checks notebooks never use);
    nbformat must still accept a good notebook and reject a broken one without it."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from mnist_utils.book import cli\n"
        "assert cli.main(['params', '02', '--profile', 'smoke']) == 0\n"
        "assert sys.modules['rfc3987_syntax'] is None\n"
        "import nbformat\n"
        "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x = 1')])\n"
        "nbformat.validate(nb)\n"
        "del nb.cells[0]['source']\n"
        "try:\n"
        "    nbformat.validate(nb)\n"
        "except nbformat.ValidationError:\n"
        "    print('rejected')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("rejected")


def test_an_interrupted_run_renders_what_it_kept_and_the_report_refuses_its_stale_readers(notebook_factory, tmp_path):
    """Ctrl-C after 01 re-ran with a new value and while 02, which reads it, still ran: 01's copies
    have their prose filled in, in both languages; the report refuses to cite 02's old value next to
    01's new one, naming 02 and the command that fixes it; once that command ran, it builds."""
    import signal

    import nbformat
    from conftest import RUNNER_CELL

    from mnist_utils.book import report

    layout = _chain(notebook_factory, tmp_path)
    writer = notebook_factory.folder / "01_w.ipynb"
    nb = nbformat.read(writer, as_version=4)
    nb.cells += [
        nbformat.v4.new_code_cell("from mnist_utils import display\ndisplay.facts(n=n)"),
        nbformat.v4.new_markdown_cell("The value is {{ n }}.", id="value"),
    ]
    nbformat.write(nb, writer)
    reader = notebook_factory.folder / "02_r.ipynb"
    nb = nbformat.read(reader, as_version=4)
    nb.cells[1].source = RUNNER_CELL + "seconds: int = 0  # how long to sleep\n"
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "import time\nfrom mnist_utils import progress\nprogress.report('sleeping')\ntime.sleep(seconds)"
        )
    )
    nbformat.write(nb, reader)
    assert set(_states(layout).values()) == {"executed"}
    settings = pipeline.project_root() / "params" / "report.yaml"
    assert record.disagreements(layout, json.loads(layout.run_record.read_text())) == []

    (layout.params / "p.yaml").write_text("notebooks:\n  01_w: {n: 2}\n  02_r: {seconds: 120}\n")
    proc = _cli_run_in_background(layout)
    try:
        wait_for(lambda: (layout.report / ".staging" / "02_r" / "progress.json").exists(), "02 to start")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, (out, err)
    finally:
        proc.kill()
    assert "kept 01_w, which finished" in err
    for folder in (layout.executed, layout.executed / "zh"):
        assert "The value is 2." in [c.source for c in nbformat.read(folder / "01_w.ipynb", as_version=4).cells]

    with pytest.raises(report.ReportError) as refused:
        report.build(layout, settings)
    message = str(refused.value)
    assert "02_r ran before the artifacts it reads from 01_w last changed" in message
    assert f"mnist-study run --profile p --report-dir {layout.report}" in message
    assert "01_w ran" not in message and "03_x" not in message  # only the stale one is named
    assert not (layout.report / "mnist_report.html").exists()

    (layout.params / "p.yaml").write_text("notebooks:\n  01_w: {n: 2}\n")
    assert _states(layout) == {"01_w": "up to date", "02_r": "executed", "03_x": "up to date"}
    assert record.disagreements(layout, json.loads(layout.run_record.read_text())) == []


def test_a_run_without_profile_uses_the_last_one_and_says_so(notebook_factory, tmp_path, capsys):
    """No --profile: the report folder's last profile, named on the first line; with no run on
    record, the full profile and a word on its cost; another profile than the last is named."""
    from mnist_utils.book import cli

    layout = _chain(notebook_factory, tmp_path)
    (layout.params / "full.yaml").write_text("notebooks: {}\n")
    args = [
        "run",
        "--notebooks",
        str(layout.notebooks),
        "--params",
        str(layout.params),
        "--report-dir",
        str(layout.report),
    ]
    assert pipeline.choose_profile(layout, "q") == ("q", None)  # nothing ran: nothing to compare
    assert cli.main(args) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("Profile: full, the study as reported: tens of minutes") and "--profile smoke" in first
    assert cli.main(args + ["--profile", "q"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("Profile: q; the last run in ") and first.endswith(
        "/ used full, whose results the notebooks that run now replace."
    )
    assert cli.main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Profile: q, the one the last run in ") and out[0].endswith(
        "(--profile NAME for another)."
    )
    assert [line for line in out if "up to date, skipped" in line] == [
        f"{stem}: up to date, skipped" for stem in ("01_w", "02_r", "03_x")
    ]  # q, as last time
    assert json.loads(layout.run_record.read_text())["profile"] == "q"
    assert pipeline.choose_profile(layout, "q") == ("q", None)  # the same as last time: nothing to say


def test_a_profile_comes_from_a_record_written_before_the_runner_kept_it():
    old = {
        "notebooks": {
            "01_a": {"profile": "smoke", "finished": "2026-12-01T10:00:00+00:00"},
            "02_b": {"profile": "full", "finished": "2026-12-01T11:00:00+00:00"},
            "03_c": {"profile": "smoke", "finished": "2026-12-01T09:00:00+00:00"},
        }
    }
    assert record.last_profile(old) == "full"  # the latest finished
    assert record.last_profile({**old, "profile": "record"}) == "record"
    assert record.last_profile({}) is None and record.last_profile({"notebooks": {}}) is None


def test_notebooks_of_two_profiles_are_named_and_the_report_refuses_them(notebook_factory, tmp_path):
    from mnist_utils.book import report

    layout = _chain(notebook_factory, tmp_path)
    _states(layout)
    said = []
    assert pipeline.run("q", only=["3"], layout=layout, log=said.append)["this_run"] == {"03_x": "executed"}
    assert any(line.startswith("note: 01_w, 02_r ran with another profile, and --only leaves them so") for line in said)
    problems = record.disagreements(layout, json.loads(layout.run_record.read_text()))
    assert problems == ["the notebooks ran with different profiles (p: 01_w, 02_r; q: 03_x)"]
    with pytest.raises(report.ReportError, match=r"different profiles.*\n.*mnist-study run --profile q"):
        report.build(layout, pipeline.project_root() / "params" / "report.yaml")
    assert _states(layout, "q") == {"01_w": "executed", "02_r": "executed", "03_x": "up to date"}
    assert record.disagreements(layout, json.loads(layout.run_record.read_text())) == []


def test_a_stale_notebook_is_named_with_the_upstream_notebooks_whose_artifacts_changed(tmp_path):
    from mnist_utils.book import cache

    layout = pipeline.Layout(tmp_path / "notebooks", tmp_path / "params", tmp_path / "report")
    for rel in ("01_a/x.json", "02_b/y.json"):
        (layout.artifacts / rel).parent.mkdir(parents=True, exist_ok=True)
        (layout.artifacts / rel).write_text("1")
    reads = ["01_a/x.json", "02_b/y.json"]
    layout.executed.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(metadata={"mnist_study": {"reads": reads}}), layout.executed / "03_c.ipynb")
    seen = cache.reads_digest(layout.artifacts, reads)
    entry = {"profile": "p", "inputs": {"reads": cache.digest(seen)}, "read_digests": seen}
    run_record = {"notebooks": {"03_c": entry}}
    assert record.disagreements(layout, run_record) == []
    (layout.artifacts / "02_b" / "y.json").write_text("2")
    assert record.disagreements(layout, run_record) == [
        "03_c ran before the artifacts it reads from 02_b last changed, so its text and figures cite their old values"
    ]
    del entry["read_digests"]  # a record from before the runner kept them: every upstream notebook is named
    assert "from 01_a, 02_b last changed" in record.disagreements(layout, run_record)[0]


def test_an_undeclared_read_of_an_artifact_that_exists_says_to_declare_it(notebook_factory, tmp_path):
    """The hint names the missing declaration, not a notebook to re-run; a truly missing artifact
    still names the notebook that writes it."""
    layout = _chain(notebook_factory, tmp_path)
    reader = notebook_factory(
        "04_u.ipynb",
        body=[
            "from pathlib import Path\nfrom mnist_utils import artifacts\n"
            "artifacts.load_json(Path(artifacts_dir) / '01_w' / 'n.json')"
        ],
    )
    with pytest.raises(pipeline.PipelineError) as err:
        _states(layout)
    assert "Artifact 01_w/n.json exists, but this notebook does not declare that it reads it" in str(err.value)
    assert '"01_w/n.json"' in str(err.value) and "--only" not in str(err.value)
    _set_reads(reader, ["01_w/n.json"])
    assert _states(layout)["04_u"] == "executed"  # declared: it runs
    (layout.artifacts / "01_w" / "n.json").unlink()
    with pytest.raises(
        FileNotFoundError,
        match=r"n.json is missing. Run the notebook that writes it first "
        r"\(`mnist-study run --only 01`\)",
    ):
        from mnist_utils import artifacts

        artifacts.load_json(layout.artifacts / "01_w" / "n.json")


def test_profile_alone_is_checked(notebook_factory, tmp_path):
    (tmp_path / "a.yaml").write_text("jobs: 2\nalone: [03_x, 1]\nnotebooks: {}\n")
    assert pipeline.read_profile(tmp_path, "a") == {"notebooks": {}, "jobs": 2, "alone": ["03_x", "1"]}
    for bad in ("alone: 03_x", "alone: [true]", "alone: [[1]]"):
        (tmp_path / "b.yaml").write_text(f"{bad}\nnotebooks: {{}}\n")
        with pytest.raises(pipeline.PipelineError, match="'alone' must be a list of notebook names or numbers"):
            pipeline.read_profile(tmp_path, "b")
    layout = _chain(notebook_factory, tmp_path)
    (layout.params / "p.yaml").write_text("jobs: 2\nalone: [09]\nnotebooks: {}\n")
    with pytest.raises(pipeline.PipelineError, match=r"Profile 'p', 'alone': 09: no such notebook"):
        _states(layout)


def test_core_slots_split_the_cores_without_sharing():
    cores = [0, 1, 2, 3, 4]
    assert pipeline.core_slots(cores, 1) == [[0, 1, 2, 3, 4]]
    assert pipeline.core_slots(cores, 2) == [[0, 1], [2, 3]]  # the fifth core is left over, not shared
    assert pipeline.core_slots(cores, 5) == [[0], [1], [2], [3], [4]]


def test_more_jobs_than_cores_run_as_many_notebooks_as_cores(notebook_factory, tmp_path, monkeypatch):
    layout = _chain(notebook_factory, tmp_path)
    monkeypatch.setattr(pipeline, "available_cores", lambda: [0])
    said = []
    record = pipeline.run("p", layout=layout, log=said.append, jobs=2)
    assert "2 jobs: this process may use 1 CPU core(s), so as many notebooks run at once" in said
    assert {run["jobs"] for run in record["notebooks"].values()} == {1}
    assert {run["cores"] for run in record["notebooks"].values()} == {1}


_CORES_PROBE = (
    "import json, os, time\nfrom pathlib import Path\n"
    "flags = Path(output_dir).parents[3] / 'flags'\nflags.mkdir(exist_ok=True)\n"
    "start = time.time()\n(flags / '{me}').touch()\n"
    "while {wait} and not (flags / '{other}').exists() and time.time() < start + 120:\n    time.sleep(0.05)\n"
    "Path(output_dir, 'probe.json').write_text(json.dumps({{'cores': sorted(os.sched_getaffinity(0)), "
    "'threads': os.environ.get('TF_NUM_INTRAOP_THREADS'), 'start': start, 'end': time.time(), "
    "'met': (flags / '{other}').exists()}}))"
)


@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="pinning notebooks to cores of their own needs Linux and 2 cores (CI has both)",
)
# On a first run, ties start in notebook order: so the one alone is the first to start (nothing may
# start beside it), or the second (it must wait until the first has finished).
@pytest.mark.parametrize("pair, alone", [(("02_a", "03_b"), "01_alone"), (("01_a", "03_b"), "02_alone")])
def test_notebooks_side_by_side_run_on_cores_of_their_own_and_alone_ones_on_all(
    notebook_factory, tmp_path, pair, alone
):
    # The pair each wait (up to 120 s) until the other has started: they meet only if they ran at once.
    for me, other, wait in ((pair[0], pair[1], True), (pair[1], pair[0], True), (alone, "none", False)):
        notebook_factory(f"{me}.ipynb", body=[_CORES_PROBE.format(me=me, other=other, wait=wait)])
    params = tmp_path / "params"
    params.mkdir()
    (params / "p.yaml").write_text(f"jobs: 2\nalone: [{alone[:2]}]\nnotebooks: {{}}\n")
    layout = pipeline.Layout(notebook_factory.folder, params, tmp_path / "report")
    record = pipeline.run("p", layout=layout, log=lambda _: None)
    probe = {s: json.loads((layout.artifacts / s / "probe.json").read_text()) for s in (*pair, alone)}
    every, share = sorted(os.sched_getaffinity(0)), len(os.sched_getaffinity(0)) // 2
    a, b = (probe[s] for s in pair)
    assert a["met"] and b["met"]  # side by side
    assert len(a["cores"]) == len(b["cores"]) == share and not set(a["cores"]) & set(b["cores"])  # cores of their own
    assert a["threads"] == b["threads"] == str(share)
    assert probe[alone]["cores"] == every and probe[alone]["threads"] is None
    assert all(p["end"] <= probe[alone]["start"] or p["start"] >= probe[alone]["end"] for p in (a, b))
    assert [record["notebooks"][s]["cores"] for s in (*pair, alone)] == [share, share, len(every)]


def _start_order(notebook_factory, tmp_path, profile: str) -> list[str]:
    """Run the factory's notebooks with ``profile`` (a profile file's text); the notebooks in the order they started."""
    params = tmp_path / "params"
    params.mkdir()
    (params / "p.yaml").write_text(profile)
    said = []
    pipeline.run("p", layout=pipeline.Layout(notebook_factory.folder, params, tmp_path / "report"), log=said.append)
    return [m.split(":")[0] for m in said if m.endswith("...")]


def test_on_a_first_run_a_notebook_further_down_a_chain_starts_before_an_independent_one(notebook_factory, tmp_path):
    # 02 holds one slot until 04 has started (a flag, at most 120 s); when 01 frees the other, 03 and
    # 04 are both ready with no readers and no seconds on record: 04, which reads 01, goes first.
    notebook_factory("01_w.ipynb", body=["from pathlib import Path\nPath(output_dir, 'n.json').write_text('1')"])
    notebook_factory(
        "02_slow.ipynb",
        body=[
            "import time\nfrom pathlib import Path\nflag = Path(output_dir).parents[3] / 'started-04'\n"
            "start = time.time()\nwhile not flag.exists() and time.time() < start + 120:\n    time.sleep(0.05)"
        ],
    )
    notebook_factory("03_x.ipynb", body=["x = 1"])
    notebook_factory(
        "04_r.ipynb", body=["from pathlib import Path\n(Path(output_dir).parents[3] / 'started-04').touch()"]
    )
    _set_reads(notebook_factory.folder / "04_r.ipynb", ["01_w/n.json"])
    started = _start_order(notebook_factory, tmp_path, "jobs: 2\nnotebooks: {}\n")
    assert started.index("04_r") < started.index("03_x"), started


def test_a_notebook_that_runs_alone_starts_first_when_it_is_ready(notebook_factory, tmp_path):
    # 02 runs alone and reads nothing: it starts before 01, which has a reader and would go first
    # otherwise; 04 runs alone too but reads 03, so it waits for it.
    for name in ("01_r", "02_alone", "03_x", "04_alone"):
        notebook_factory(f"{name}.ipynb", body=["from pathlib import Path\nPath(output_dir, 'n.json').write_text('1')"])
    _set_reads(notebook_factory.folder / "03_x.ipynb", ["01_r/n.json"])
    _set_reads(notebook_factory.folder / "04_alone.ipynb", ["03_x/n.json"])
    started = _start_order(notebook_factory, tmp_path, "jobs: 2\nalone: [02, 04]\nnotebooks: {}\n")
    assert started == ["02_alone", "01_r", "03_x", "04_alone"], started
