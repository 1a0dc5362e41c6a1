"""Live progress of a run: what each executing notebook is doing, for how long, and what is left.

Inside a notebook, training reports its current activity with :func:`report` (the
callback of :func:`keras_callback` does it every epoch). It goes to a small JSON file
whose path the runner puts in the kernel's environment (``MNIST_STUDY_PROGRESS``),
never to the output, so nothing of it reaches the executed notebook; outside the
runner (JupyterLab, papermill) :func:`report` does nothing.

The runner's :class:`Monitor` reads those files and the cell being executed, and
draws one line that it redraws on a terminal; elsewhere (a CI log) it prints a plain
line per notebook at most once a minute. The estimate of what is left comes from the
notebook's time in the previous run's record.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

ENV = "MNIST_STUDY_PROGRESS"


# What this kernel has reported so far: its current activity and the training work done.
_state = {"what": "", "flops": 0.0}


def report(what: str) -> None:
    """Tell the runner what the notebook is doing now ("training lenet5, seed 1, epoch 3 of 10")."""
    _state["what"] = what
    _write()


def add_work(flops: float) -> None:
    """Count ``flops`` floating-point operations of training into the notebook's total, which
    the runner records (``training_flops`` in run.json) for the benchmark's efficiency figures."""
    _state["flops"] += flops
    _write()


def _write() -> None:
    path = os.environ.get(ENV)
    if not path:
        return
    try:  # best effort: progress is never worth failing a notebook over
        tmp = f"{path}.{os.getpid()}.tmp"
        Path(tmp).write_text(json.dumps({**_state, "time": time.time()}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


def read(path: Path) -> dict:
    """What a kernel last reported to ``path`` ({} if nothing yet)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def keras_callback(label: str):
    """A Keras callback that reports "training <label>, epoch e of E" as each epoch starts and,
    from the second epoch on, about how long this training has left at the pace of its epochs so
    far (what the runner shows when it has no earlier time for the whole notebook)."""
    from mnist_utils import backend

    keras = backend.keras()

    class Progress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self._start = time.monotonic()

        def on_epoch_begin(self, epoch, logs=None):
            epochs = self.params.get("epochs")
            line = f"training {label}, epoch {epoch + 1} of {epochs or '?'}"
            if epoch and epochs:
                per_epoch = (time.monotonic() - self._start) / epoch
                line += f", this training about {duration(per_epoch * (epochs - epoch))} left"
            report(line)

    return Progress()


def fit(statuses: list[str], width: int) -> str:
    """The notebooks' statuses on one line shorter than ``width`` (a line that fills the terminal
    wraps, and every redraw would then add a line): each gets an equal share, cut with "…"."""
    if not statuses:
        return ""
    share = max((width - 1 - 3 * (len(statuses) - 1)) // len(statuses), 1)
    return " | ".join(s if len(s) <= share else s[: share - 1] + "…" for s in statuses)


def duration(seconds: float) -> str:
    """'42 s', '6:05' (minutes:seconds) or '1:02:05'."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, s = divmod(seconds, 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}:{m:02d}:{s:02d}" if hours else f"{m}:{s:02d}"


class Monitor:
    """The runner's progress display, one entry per executing notebook (thread-safe).

    Args:
        stream: where to draw (the terminal's stderr by default); ``log_stream``: where
            :meth:`log` prints the run's log lines (stdout by default).
        tty: redraw one line in place (default: whether ``stream`` is a terminal).
        interval: seconds between redraws; ``plain_every``: seconds between plain lines
            of one notebook when not on a terminal.
    """

    def __init__(
        self, stream=None, tty: bool | None = None, interval: float = 1.0, plain_every: float = 60.0, log_stream=None
    ):
        self.stream = stream or sys.stderr
        self.log_stream = log_stream or (self.stream if stream is not None else sys.stdout)
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval, self.plain_every = interval, plain_every
        self._running: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._drawn = False

    def __enter__(self):
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread:
            self._thread.join()
        with self._lock:
            self._clear()

    def started(self, stem: str, progress_file: Path, expected: float | None) -> None:
        """``stem`` starts executing; ``expected``: its seconds last time (None if unknown)."""
        with self._lock:
            self._running[stem] = {
                "file": Path(progress_file),
                "expected": expected,
                "start": time.monotonic(),
                "cell": None,
                "printed": time.monotonic(),
            }

    def cell(self, stem: str, index: int, total: int) -> None:
        """``stem`` is executing its cell ``index`` (0-based) of ``total``."""
        with self._lock:
            if stem in self._running:
                self._running[stem]["cell"] = (index + 1, total)

    def finished(self, stem: str) -> None:
        with self._lock:
            self._running.pop(stem, None)

    def log(self, message: str) -> None:
        """Print a line of the run's log without garbling the progress line."""
        with self._lock:
            self._clear()
            print(message, file=self.log_stream, flush=True)

    def status(self, stem: str) -> str:
        """One notebook's progress: elapsed time, cell, activity and what is left."""
        entry = self._running[stem]
        elapsed = time.monotonic() - entry["start"]
        parts = [f"{stem} {duration(elapsed)}"]
        if entry["cell"]:
            parts.append("cell {} of {}".format(*entry["cell"]))
        if what := read(entry["file"]).get("what"):
            parts.append(what)
        if entry["expected"]:
            left = entry["expected"] - elapsed
            parts.append(
                f"about {duration(left)} left" if left > 0 else f"longer than last time ({duration(entry['expected'])})"
            )
        return " · ".join(parts)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                if self.tty:
                    line = fit([self.status(stem) for stem in self._running], shutil.get_terminal_size().columns)
                    self.stream.write("\r\x1b[K" + line)
                    self.stream.flush()
                    self._drawn = bool(line)
                    continue
                now = time.monotonic()
                for stem, entry in self._running.items():
                    if now - entry["printed"] >= self.plain_every:
                        entry["printed"] = now
                        print(self.status(stem), file=self.stream, flush=True)

    def _clear(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False
