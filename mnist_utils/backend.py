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
    """The ``keras`` module (TensorFlow backend), imported quietly the first time,
    with tf.data's autotuning off in the pipelines it builds from arrays (see
    :func:`_untune_array_pipelines`)."""
    tf = tensorflow()
    import keras as k

    _untune_array_pipelines(tf)
    return k


def _untune_array_pipelines(tf) -> None:
    """Build Keras's tf.data pipelines for numpy arrays with autotuning off.

    ``fit``, ``evaluate`` and ``predict`` feed arrays through a tf.data pipeline whose
    parallel map and prefetch are autotuned, and Keras starts a new iterator for every
    epoch, every validation and every ``predict``. Deleting an autotuned iterator waits
    for the autotuning thread to wake up, and that thread sleeps longer the longer the
    iterator lived: on the study's 2-core VM one epoch of our CNN in two or three
    stalled for 1 to 4 s with both cores idle (epochs of 10 s instead of 6). Without
    autotuning the map runs at a fixed parallelism and nothing waits; the batches,
    their order and every trained weight are the same (``tests/test_training.py``).
    Keras has no public switch for this, so its array adapter's method is wrapped, once.
    """
    from keras.src.trainers.data_adapters import array_data_adapter

    adapter = array_data_adapter.ArrayDataAdapter
    if hasattr(adapter.get_tf_dataset, "autotuned"):  # wrapped already
        return
    autotuned = adapter.get_tf_dataset

    def get_tf_dataset(self):
        options = tf.data.Options()
        options.autotune.enabled = False
        return autotuned(self).with_options(options)

    get_tf_dataset.autotuned = autotuned  # the method it wraps
    adapter.get_tf_dataset = get_tf_dataset
