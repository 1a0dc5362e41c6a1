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


def build_mlp_branches(branches: int, hidden: tuple[int, ...] = (128,), activation: str = "relu",
                       num_classes: int = 10, name: str = "mlp_branches"):
    """``branches`` independent MLPs side by side in one model; output shape (batch, branches, classes).

    Each branch has its own weights (einsum over a branch axis), so with the summed
    loss of :func:`training.train_branches` every branch trains exactly as it would
    alone, except that all branches see the same mini-batch order. Running them
    as one model keeps both CPU cores busy where one small MLP cannot.
    """
    keras = backend.keras()

    def glorot():
        # Every kernel here is (branch, in, out). Naming the fan axes keeps the branch
        # axis out of the fans, so each branch gets Keras's default Glorot-uniform
        # initialization of a plain Dense layer of its own.
        return keras.initializers.VarianceScaling(scale=1.0, mode="fan_avg", distribution="uniform",
                                                  input_axes=[1], output_axes=[2])

    k = branches
    inputs = keras.Input(shape=(28, 28), name="image")
    x = keras.layers.Flatten(name="flatten")(inputs)
    x = keras.layers.EinsumDense("bi,kih->bkh", output_shape=(k, hidden[0]), bias_axes="kh",
                                 activation=activation, kernel_initializer=glorot(), name="hidden_1")(x)
    for i, units in enumerate(hidden[1:], start=2):
        x = keras.layers.EinsumDense("bkh,khj->bkj", output_shape=(k, units), bias_axes="kj",
                                     activation=activation, kernel_initializer=glorot(), name=f"hidden_{i}")(x)
    x = keras.layers.EinsumDense("bkh,khc->bkc", output_shape=(k, num_classes), bias_axes="kc",
                                 kernel_initializer=glorot(), name="logits")(x)
    outputs = keras.layers.Softmax(name="output")(x)
    return keras.Model(inputs, outputs, name=name)


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
