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
                       l2: float = 0.0, dropout: float = 0.0, batch_norm: bool = False,
                       num_classes: int = 10, name: str = "mlp_branches"):
    """``branches`` independent MLPs side by side in one model; output shape (batch, branches, classes).

    Each branch has its own weights (einsum over a branch axis), so with the summed
    loss of :func:`training.train_branches` every branch trains exactly as it would
    alone, except that all branches see the same mini-batch order. Running them
    as one model keeps both CPU cores busy where one small MLP cannot.

    Args:
        l2: L2 penalty on every kernel (summed over branches, so each branch's
            gradient gets exactly its own 2·l2·w).
        dropout: rate of a Dropout layer after each hidden layer (masks are per branch).
        batch_norm: BatchNormalization between each hidden layer and its activation,
            with statistics per branch and unit.
    """
    keras = backend.keras()

    def dense(equation, units, name):
        # Every kernel here is (branch, in, out). Naming the fan axes keeps the branch
        # axis out of the fans, so each branch gets Keras's default Glorot-uniform
        # initialization of a plain Dense layer of its own.
        init = keras.initializers.VarianceScaling(scale=1.0, mode="fan_avg", distribution="uniform",
                                                  input_axes=[1], output_axes=[2])
        return keras.layers.EinsumDense(
            equation, output_shape=(k, units), bias_axes=equation[-2:], kernel_initializer=init,
            kernel_regularizer=keras.regularizers.L2(l2) if l2 else None, name=name)

    k = branches
    inputs = keras.Input(shape=(28, 28), name="image")
    x = keras.layers.Flatten(name="flatten")(inputs)
    for i, units in enumerate(hidden, start=1):
        x = dense("bi,kih->bkh" if i == 1 else "bkh,khj->bkj", units, f"hidden_{i}")(x)
        if batch_norm:
            # Flatten (branch, unit) so each branch and unit has its own statistics.
            x = keras.layers.Reshape((k * units,))(x)
            x = keras.layers.BatchNormalization(name=f"batch_norm_{i}")(x)
            x = keras.layers.Reshape((k, units))(x)
        x = keras.layers.Activation(activation, name=f"{activation}_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
    x = dense("bkh,khc->bkc", num_classes, "logits")(x)
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
