"""Deployable exports of a trained Keras model: .keras, TensorFlow Lite float32 and int8."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from mnist_utils import artifacts, backend


def save_keras(model, path: Path, x_check: np.ndarray) -> float:
    """Save ``model`` as .keras (in float32, see ``models.float32_copy``), reload it with
    ``safe_mode=True`` and compare predictions.

    Returns:
        The largest absolute difference between the two models' probabilities on
        ``x_check`` (0 when the round trip is exact).
    """
    from mnist_utils import layers, models  # noqa: F401  (layers: the custom layers a model may hold)

    keras = backend.keras()

    artifacts.save_model(models.float32_copy(model), path)  # loads and runs on any machine
    reloaded = keras.models.load_model(path, safe_mode=True)
    before = model.predict(x_check, batch_size=1024, verbose=0)
    after = reloaded.predict(x_check, batch_size=1024, verbose=0)
    return float(np.max(np.abs(before - after)))


def to_tflite(model, path: Path, calibration: np.ndarray | None = None) -> int:
    """Convert ``model`` to TensorFlow Lite; with ``calibration`` images, to full int8.

    int8 post-training quantization stores weights and activations as 8-bit
    integers, with scales measured on the calibration images; input and output
    stay float32, so callers feed the same [0, 1] images either way. A model
    trained under mixed precision is converted from its float32 copy.

    Returns:
        The file size in bytes.
    """
    from mnist_utils import models

    tf = backend.tensorflow()

    converter = tf.lite.TFLiteConverter.from_keras_model(models.float32_copy(model))
    if calibration is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([image[None]] for image in calibration.astype(np.float32))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with backend.silenced():  # an endpoint listing, quantizer log lines and a calibration warning
        flatbuffer = converter.convert()
    artifacts.write_bytes(path, flatbuffer)
    return path.stat().st_size


def _interpreter(path: Path, batch: int):
    from ai_edge_litert.interpreter import Interpreter

    # Creating the interpreter or resizing it logs "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
    with backend.silenced():
        interpreter = Interpreter(model_path=str(path))
        index = interpreter.get_input_details()[0]["index"]
        interpreter.resize_tensor_input(index, [batch, 28, 28])
        interpreter.allocate_tensors()
    return interpreter, index, interpreter.get_output_details()[0]["index"]


def tflite_predict(path: Path, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities of a .tflite model for images ``x`` (N, 28, 28) in [0, 1]."""
    interpreter, input_index, output_index = _interpreter(path, batch_size)
    out = []
    for start in range(0, len(x), batch_size):
        chunk = x[start : start + batch_size].astype(np.float32)
        if len(chunk) < batch_size:  # the last, short batch gets its own tensor size
            interpreter, input_index, output_index = _interpreter(path, len(chunk))
        interpreter.set_tensor(input_index, chunk)
        interpreter.invoke()
        out.append(interpreter.get_tensor(output_index).copy())
    return np.concatenate(out)


def _median_seconds(call, argument, repeats: int) -> float:
    """Median wall time of ``call(argument)`` over ``repeats`` calls, after one warm-up call."""
    call(argument)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call(argument)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def latency(predict_one, image: np.ndarray, repeats: int = 200) -> float:
    """Median seconds of ``predict_one(image)`` over ``repeats`` calls, after one warm-up call."""
    return _median_seconds(predict_one, image, repeats)


def tflite_single(path: Path):
    """A function that classifies one (28, 28) image with the .tflite model, for :func:`latency`."""
    interpreter, input_index, output_index = _interpreter(path, 1)

    def predict_one(image):
        interpreter.set_tensor(input_index, image[None].astype(np.float32))
        interpreter.invoke()
        return interpreter.get_tensor(output_index)[0]

    return predict_one


def throughput(predict_batch, x: np.ndarray, repeats: int = 3) -> float:
    """Images per second of ``predict_batch(x)`` (one warm-up call, then the median of ``repeats``)."""
    return len(x) / _median_seconds(predict_batch, x, repeats)
