"""One run or report build at a time per report folder: ``report/.lock``, held by the kernel."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import time
from pathlib import Path

from mnist_utils.book.errors import PipelineError


@contextlib.contextmanager
def report_lock(report_dir: Path, command: str, log=None):
    """Hold ``report_dir/.lock`` while ``command`` runs: one run or report build per report folder.

    The lock is the kernel's (``fcntl.flock`` on the file), so it is held exactly as long as its
    process lives: a second run is refused at once, naming the holder's process id, command and
    start (written in the file), and a lock whose process is gone (killed with -9, a crashed
    machine) is taken over with a note. Content never decides: an empty or half-written file is
    free only if no process holds it, and of two runs taking over a dead lock, one wins.
    """
    import fcntl

    path = Path(report_dir) / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    mine = {
        "pid": os.getpid(),
        "command": command,
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _lock_holder(path, wait=1.0)  # its holder may be writing its name this instant
            raise PipelineError(
                f"{path.parent} is in use by process {holder.get('pid', '?')} "
                f"(`{holder.get('command', '?')}`, started {holder.get('started', '?')}). Wait for it to "
                f"finish, stop it, or use another --report-dir."
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # its holder removed the file between our open and our lock: start again
            os.close(fd)
            continue
        break
    try:
        left = _lock_holder(path)
        if left:
            (log or print)(
                f"note: taking over {path}, left by process {left.get('pid', '?')} "
                f"(`{left.get('command', '?')}`, started {left.get('started', '?')}), which no longer runs"
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(mine).encode("utf-8"), 0)
        yield
    finally:
        path.unlink(missing_ok=True)  # while still locked, so no one locks the file we remove
        os.close(fd)


def _lock_holder(path: Path, wait: float = 0.0) -> dict:
    """What a lock file says of its holder ({} if empty or unreadable), waiting up to ``wait``
    seconds for it to be written."""
    deadline = time.monotonic() + wait
    while True:
        try:
            holder = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(holder, dict):
                return holder
        except (OSError, ValueError):
            pass
        if time.monotonic() >= deadline:
            return {}
        time.sleep(0.05)
