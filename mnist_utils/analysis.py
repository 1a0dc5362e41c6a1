"""Error analysis of trained models: metrics, confusions, calibration, saliency, robustness."""

from __future__ import annotations

import numpy as np

from mnist_utils import backend


def per_class_report(y_true: np.ndarray, y_pred: np.ndarray):
    """Precision, recall, F1 and support per digit plus macro and weighted averages (a DataFrame).

    Computed by scikit-learn; the accuracy row is left out because it is not a per-class figure.
    """
    import pandas as pd
    from sklearn.metrics import classification_report

    report = classification_report(y_true, y_pred, digits=4, output_dict=True, zero_division=0)
    report.pop("accuracy")
    frame = pd.DataFrame(report).T.rename(index={"macro avg": "macro average", "weighted avg": "weighted average"})
    frame["support"] = frame["support"].astype(int)
    return frame.rename_axis("digit")


def top_confusions(y_true: np.ndarray, y_pred: np.ndarray, n: int = 10):
    """The ``n`` most frequent (true, predicted) pairs among the errors (a DataFrame)."""
    import pandas as pd
    from sklearn.metrics import confusion_matrix

    cm = confusion_matrix(y_true, y_pred, labels=range(10))
    np.fill_diagonal(cm, 0)
    rows = sorted(
        ((int(t), int(p), int(cm[t, p])) for t, p in zip(*np.nonzero(cm))), key=lambda row: (-row[2], row[0], row[1])
    )  # most frequent first, ties by digit
    return pd.DataFrame(rows[:n], columns=["true", "predicted", "count"])


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray, bins: int = 15) -> float:
    """ECE: the confidence-weighted gap between confidence and accuracy over equal-width bins."""
    table = reliability(y_true, probs, bins)
    return float(np.sum(table["count"] * np.abs(table["accuracy"] - table["confidence"])) / len(y_true))


def reliability(y_true: np.ndarray, probs: np.ndarray, bins: int = 15) -> dict[str, np.ndarray]:
    """Per confidence bin: mean confidence, accuracy and count (empty bins dropped)."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    # Equal-width bins over (0, 1]; the top probability of 10 classes is at least 0.1.
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    keep = count > 0
    mean = lambda v: np.bincount(which, weights=v, minlength=bins)[keep] / count[keep]  # noqa: E731
    return {"confidence": mean(confidence), "accuracy": mean(correct.astype(float)), "count": count[keep]}


def fit_temperature(y_true: np.ndarray, probs: np.ndarray) -> float:
    """The temperature T minimizing the negative log-likelihood of softmax(log(probs) / T).

    Fitted on validation data, it rescales confidence without changing any prediction
    (Guo et al., 2017).
    """
    from scipy.optimize import minimize_scalar

    def nll(t):
        return -np.mean(np.log(np.clip(temperature_scaled(probs, t)[np.arange(len(y_true)), y_true], 1e-12, 1.0)))

    return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)


def temperature_scaled(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities with their logits (recovered as log-probabilities) divided by ``temperature``."""
    return scale(np.log(np.clip(probs, 1e-12, 1.0)), temperature)


def scale(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / temperature); ``logits`` may be log-probabilities."""
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def saliency(
    model, images: np.ndarray, classes: np.ndarray, samples: int = 16, noise: float = 0.1, seed: int = 0
) -> np.ndarray:
    """SmoothGrad saliency: |d p(class) / d pixel| averaged over noisy copies, scaled to [0, 1] per image.

    A single gradient is speckled; averaging it over ``samples`` copies with Gaussian
    pixel noise (Smilkov et al., 2017) keeps what is stable: the strokes that matter.
    """
    tf = backend.tensorflow()

    rng = np.random.default_rng(seed)
    total = np.zeros(images.shape, np.float32)
    for _ in range(samples):
        x = tf.convert_to_tensor(images + rng.normal(0.0, noise, images.shape), dtype=tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(x)
            picked = tf.gather(model(x, training=False), classes, axis=1, batch_dims=1)
        total += np.abs(tape.gradient(picked, x).numpy())
    return total / np.maximum(total.reshape(len(total), -1).max(axis=1), 1e-12)[:, None, None]


def logits_model(model):
    """A model computing ``model``'s pre-softmax scores (logits).

    Gradients must be taken on logits: through a saturated softmax (a top probability
    that rounds to 1.0 in float32) the cross-entropy's gradient is exactly zero, and an
    attack computed from it leaves confidently classified digits untouched.
    """
    keras = backend.keras()

    layers = list(model.layers)
    if isinstance(layers[-1], keras.layers.Reshape):  # e.g. models.single_branch: softmax, then reshape
        layers.pop()
    last = layers.pop()
    if isinstance(model, keras.Sequential):
        # A Sequential model keeps no graph to cut: call its layers again on a new input.
        inputs = features = keras.Input(model.input_shape[1:])
        for layer in layers:
            features = layer(features)
    else:
        inputs, features = model.input, last.input
    if isinstance(last, keras.layers.Softmax):
        scores = features
    elif isinstance(last, keras.layers.Dense) and last.activation is keras.activations.softmax:
        scores = keras.ops.matmul(features, last.kernel) + last.bias
    else:
        raise ValueError(f"{model.name}: no softmax output layer to take the logits from")
    # An unnamed Reshape would take the next "reshape_N" of this process, which a loaded model
    # saved by another process may already use ("The name ... is used 2 times in the model").
    return keras.Model(inputs, keras.layers.Reshape((10,), name="scores")(scores))


def fgsm(model, images: np.ndarray, labels: np.ndarray, epsilon: float, batch_size: int = 1000) -> np.ndarray:
    """Fast gradient sign adversarial images: x + epsilon * sign(d loss / d x), clipped to [0, 1].

    The loss is the cross-entropy computed from the logits (see :func:`logits_model`).
    """
    tf = backend.tensorflow()
    keras = backend.keras()

    if epsilon == 0:
        return images
    scores = logits_model(model)
    out = []
    for start in range(0, len(images), batch_size):
        x = tf.convert_to_tensor(images[start : start + batch_size], dtype=tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = keras.losses.sparse_categorical_crossentropy(
                labels[start : start + batch_size], scores(x, training=False), from_logits=True
            )
        out.append(np.clip(x.numpy() + epsilon * np.sign(tape.gradient(loss, x).numpy()), 0.0, 1.0))
    return np.concatenate(out).astype(np.float32)


def gaussian_noise(images: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """Images plus N(0, sigma²) pixel noise, clipped to [0, 1]."""
    rng = np.random.default_rng(seed)
    return np.clip(images + rng.normal(0.0, sigma, images.shape), 0.0, 1.0).astype(np.float32)


def rotate(images: np.ndarray, degrees: float) -> np.ndarray:
    """Every image rotated by ``degrees`` about its centre (bilinear, black fill)."""
    from scipy import ndimage

    return np.clip(ndimage.rotate(images, degrees, axes=(1, 2), reshape=False, order=1), 0, 1).astype(np.float32)


def shift(images: np.ndarray, pixels: int) -> np.ndarray:
    """Every image moved ``pixels`` right and ``pixels`` down (black fill)."""
    out = np.zeros_like(images)
    if pixels == 0:
        return images.copy()
    out[:, pixels:, pixels:] = images[:, :-pixels, :-pixels]
    return out


def sklearn_digits_as_mnist():
    """scikit-learn's bundled UCI handwritten digits (8x8, 1,797 images) prepared the MNIST way.

    Each 8x8 image is cropped to its ink, scaled to fit 20x20 and centred by its
    centre of mass in 28x28, by the same code that prepares a user's own images.

    Returns:
        (images (N, 28, 28) float32 in [0, 1], labels (N,))
    """
    from sklearn.datasets import load_digits

    from mnist_utils import predict

    digits = load_digits()
    images = np.stack([predict.to_mnist(image / 16.0, source="sklearn digit") for image in digits.images])
    return images.astype(np.float32), digits.target


PERTURBATIONS = {
    "noise": "Gaussian noise σ",
    "rotation": "rotation (degrees)",
    "shift": "shift right and down (pixels)",
    "fgsm": "FGSM ε",
}


def perturb(kind: str, model, images: np.ndarray, labels: np.ndarray, level: float) -> np.ndarray:
    """Test images under one perturbation (a key of PERTURBATIONS) at strength ``level``.

    FGSM needs the model (it follows the model's own gradients); the others ignore it.
    """
    if kind == "noise":
        return gaussian_noise(images, level)
    if kind == "rotation":
        return rotate(images, level)
    if kind == "shift":
        return shift(images, int(level))
    if kind == "fgsm":
        return fgsm(model, images, labels, level)
    raise ValueError(f"unknown perturbation {kind!r}; use one of {', '.join(PERTURBATIONS)}")
