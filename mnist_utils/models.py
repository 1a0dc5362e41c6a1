"""Model builders. Each returns an uncompiled Keras model; training.py compiles it."""

from __future__ import annotations

from mnist_utils import backend


def build_mlp(hidden: tuple[int, ...] = (128,), activation: str = "relu",
              num_classes: int = 10, name: str = "mlp"):
    """A multilayer perceptron on flattened 28x28 images: 784 -> hidden... -> softmax."""
    keras = backend.keras()

    layers = [keras.Input(shape=(28, 28), name="image"), keras.layers.Flatten(name="flatten")]
    for i, units in enumerate(hidden, start=1):
        layers.append(keras.layers.Dense(units, activation=activation, name=f"hidden_{i}"))
    layers.append(keras.layers.Dense(num_classes, activation="softmax", name="output"))
    return keras.Sequential(layers, name=name)


def layer_table(model):
    """One row per layer: name, type, output shape, parameter count (a DataFrame)."""
    import pandas as pd

    rows = [
        {
            "layer": layer.name,
            "type": type(layer).__name__,
            "output shape": "(batch, " + ", ".join(str(d) for d in layer.output.shape[1:]) + ")",
            "parameters": layer.count_params(),
        }
        for layer in model.layers
    ]
    return pd.DataFrame(rows)
