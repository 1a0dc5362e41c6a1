"""Import TensorFlow and Keras without their start-up log lines.

TensorFlow 2.21 writes its oneDNN and CUDA start-up lines straight to file
descriptor 2 before its logging is initialized, so ``TF_CPP_MIN_LOG_LEVEL``
alone does not stop them, and a Jupyter kernel forwards that descriptor into
the notebook. The first import therefore runs with descriptor 2 pointed at
``/dev/null``; Python exceptions still propagate as usual.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import warnings


@contextlib.contextmanager
def _stderr_fd_silenced():
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@contextlib.contextmanager
def silenced():
    """Silence a noisy TensorFlow Lite step: its native log lines on descriptor 2,
    its Python prints (``model.export``'s endpoint listing) and its warnings.

    Use it only around calls whose chatter says nothing the notebook reader needs;
    exceptions still propagate.
    """
    with _stderr_fd_silenced(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def tensorflow():
    """The ``tensorflow`` module, imported quietly the first time."""
    # Later C++ log lines (e.g. the failed CUDA probe on a CPU machine) respect this.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" not in sys.modules:
        with _stderr_fd_silenced():
            import tensorflow as tf
        # The study builds many small models in one process, and TensorFlow's Python
        # logger warns about the resulting function retracing; that is expected here.
        tf.get_logger().setLevel(logging.ERROR)
    return sys.modules["tensorflow"]


def keras():
    """The ``keras`` module (TensorFlow backend), imported quietly the first time."""
    tensorflow()
    import keras as k

    return k
