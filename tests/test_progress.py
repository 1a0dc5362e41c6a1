"""Live progress: the kernel reports what it is doing, the runner shows it with an estimate, and
nothing of it reaches the executed notebook."""

import io
import time

import nbformat
from conftest import wait_for

from mnist_utils import progress
from mnist_utils.book import pipeline


def test_report_is_silent_outside_the_runner_and_writes_its_file_inside(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(progress.ENV, raising=False)
    progress.report("training x, epoch 1 of 2")
    assert capsys.readouterr() == ("", "")
    monkeypatch.setenv(progress.ENV, str(tmp_path / "progress.json"))
    progress.report("training x, epoch 2 of 2")
    assert "epoch 2 of 2" in (tmp_path / "progress.json").read_text() and capsys.readouterr() == ("", "")
    assert list(tmp_path.iterdir()) == [tmp_path / "progress.json"]  # no temporary file left


def test_durations_read_as_a_clock():
    assert [progress.duration(s) for s in (4.4, 59.6, 61, 3725)] == ["4 s", "1:00", "1:01", "1:02:05"]


def test_a_terminal_gets_one_line_redrawn_and_log_lines_that_clear_it(tmp_path, monkeypatch):
    out = io.StringIO()
    monkeypatch.setenv("COLUMNS", "200")  # wide enough for the whole line
    monkeypatch.setenv(progress.ENV, str(tmp_path / "p.json"))
    progress.report("training LeNet-5, seed 2 of 3, epoch 7 of 10")
    line = "\r\x1b[K05_cnn 0 s · cell 5 of 30 · training LeNet-5, seed 2 of 3, epoch 7 of 10 · about 10:00 left"
    with progress.Monitor(out, tty=True, interval=0.05) as monitor:
        monitor.started("05_cnn", tmp_path / "p.json", expected=600)
        monitor.cell("05_cnn", 4, 30)
        wait_for(lambda: line in out.getvalue(), "the status line")
        monitor.log("04_regularization: done")
        done = out.getvalue().index("04_regularization: done\n")
        wait_for(lambda: out.getvalue().rfind(line) > done, "the status line drawn again below the log line")
        monitor.finished("05_cnn")
    text = out.getvalue()
    assert line in text
    assert "\r\x1b[K04_regularization: done\n" in text and text.endswith("\r\x1b[K")


def test_a_log_file_gets_a_plain_line_now_and_then():
    out = io.StringIO()
    start = time.monotonic()
    with progress.Monitor(out, tty=False, interval=0.05, plain_every=0.2) as monitor:
        monitor.started("03_x", "/nonexistent/progress.json", expected=None)
        wait_for(lambda: out.getvalue().count("\n") >= 2, "two plain lines")
    elapsed = time.monotonic() - start
    lines = out.getvalue().splitlines()
    # At most one line per plain_every (and one at the start), however slowly the machine ran.
    assert 2 <= len(lines) <= elapsed / 0.2 + 1 and all(line.startswith("03_x ") and "\r" not in line for line in lines)


def test_the_runner_shows_a_notebook_s_epochs_and_an_estimate_and_the_notebook_shows_none(notebook_factory, tmp_path):
    """A fake long cell reports epochs; the second run of the profile estimates from the first."""
    cell = (
        "import time\nfrom mnist_utils import progress\nfor epoch in range(1, 4):\n"
        "    progress.report(f'training fake, epoch {epoch} of 3')\n    time.sleep(0.5)\nprint('trained')"
    )
    notebook_factory("01_fake.ipynb", body=[cell])
    params = tmp_path / "params"
    params.mkdir()
    (params / "p.yaml").write_text("notebooks: {}\n")
    layout = pipeline.Layout(notebook_factory.folder, params, tmp_path / "report")
    shown = []
    for force in (False, True):
        out = io.StringIO()
        with progress.Monitor(out, tty=False, interval=0.1, plain_every=0.3) as monitor:
            pipeline.run("p", layout=layout, force=force, monitor=monitor)
        shown.append(out.getvalue())
    assert "01_fake: done in" in shown[0] and "training fake, epoch" in shown[0]
    # title, parameters, papermill's injected parameters, the long cell; nothing to estimate from yet
    assert "cell 4 of 4 · training fake" in shown[0] and "left" not in shown[0]
    assert "training fake, epoch" in shown[1] and ("left" in shown[1] or "longer than last time" in shown[1])
    executed = nbformat.read(layout.executed / "01_fake.ipynb", as_version=4)
    outputs = [o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert outputs == ["trained\n"]
    assert not list(layout.report.rglob("progress.json*"))


def test_the_run_record_keeps_each_notebook_s_training_work(notebook_factory, tmp_path):
    """A notebook that trains reports its floating-point operations; run.json records them for the benchmark."""
    notebook_factory(
        "01_work.ipynb", body=["from mnist_utils import progress\nprogress.add_work(1.5e9)\nprogress.add_work(0.5e9)"]
    )
    notebook_factory("02_idle.ipynb", body=["x = 1"])
    params = tmp_path / "params"
    params.mkdir()
    (params / "p.yaml").write_text("notebooks: {}\n")
    layout = pipeline.Layout(notebook_factory.folder, params, tmp_path / "report")
    record = pipeline.run("p", layout=layout, log=lambda _: None)
    assert record["notebooks"]["01_work"]["training_flops"] == 2e9
    assert record["notebooks"]["02_idle"]["training_flops"] is None


def test_the_keras_callback_reports_epochs_and_what_this_training_has_left(tmp_path, monkeypatch):
    """Without an earlier time for the notebook, the pace of the epochs so far gives the estimate."""
    import json

    monkeypatch.setenv(progress.ENV, str(tmp_path / "p.json"))
    clock = iter([100.0, 130.0])  # training starts at 100 s; epoch 3 begins at 130 s
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    callback = progress.keras_callback("lenet5, seed 0")
    callback.set_params({"epochs": 10})
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    assert json.loads((tmp_path / "p.json").read_text())["what"] == "training lenet5, seed 0, epoch 1 of 10"
    callback.on_epoch_begin(2)  # 2 epochs in 30 s: 8 more take about 2:00
    assert json.loads((tmp_path / "p.json").read_text())["what"] == (
        "training lenet5, seed 0, epoch 3 of 10, this training about 2:00 left"
    )


def test_the_status_line_fits_the_terminal_each_notebook_with_its_share():
    long = (
        "05_cnn 1:02 · cell 13 of 30 · training our CNN with augmentation, seed 2 of 3, epoch 7 of 10 · about 4:10 left"
    )
    assert progress.fit([long], 80) == long[:78] + "…" and len(progress.fit([long], 80)) == 79
    assert progress.fit(["03_x 4 s"], 80) == "03_x 4 s"  # a short one is kept whole
    two = progress.fit([long, "04_regularization 0:12 · cell 5 of 20"], 80)
    assert (
        len(two) <= 79
        and two.startswith("05_cnn 1:02 · cell 13 of 30 · trainin…")
        and " | 04_regularization 0:12 · cell 5 of 20" in two
    )
    assert progress.fit([], 80) == "" and len(progress.fit([long] * 3, 20)) <= 19


def test_a_terminal_of_80_columns_never_gets_a_line_that_wraps(tmp_path, monkeypatch):
    out = io.StringIO()
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv(progress.ENV, str(tmp_path / "p.json"))
    progress.report("training our CNN with augmentation, seed 2 of 3, epoch 7 of 10, this training about 4:10 left")
    with progress.Monitor(out, tty=True, interval=0.02) as monitor:
        monitor.started("05_cnn", tmp_path / "p.json", expected=600)
        monitor.cell("05_cnn", 12, 30)
        wait_for(lambda: out.getvalue().count("\r\x1b[K") >= 3, "three redraws")
    lines = [line for line in out.getvalue().split("\r\x1b[K") if line]
    assert lines and all(len(line) < 80 and line.startswith("05_cnn ") for line in lines)
