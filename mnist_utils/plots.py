"""Figures for the notebooks.

Every helper takes ``ax=None`` (or ``fig=None`` for multi-panel grids), draws,
and returns the figure. Nothing is shown or saved implicitly: figures are built
with ``matplotlib.figure.Figure`` so pyplot never displays them twice; the
notebook displays the returned figure and ``artifacts.save_figure`` saves it.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

PALETTE = "deep"
# One colour per model in every figure of the report (indices into PALETTE), so a reader can
# follow a model from figure to figure: the MLPs blue, our CNN (and notebook 06's "CNN", its
# best seed) red, the course papers' CNNs each their own.
MODEL_COLORS = {
    "MLP": "C0",
    "baseline": "C0",
    "CNN": "C3",
    "our CNN": "C3",
    "our CNN, no augmentation": "C1",
    "BN-CNN": "C2",
    "LeNet-5": "C4",
    "paper 001 CNN": "C5",
}


def colors(names) -> dict[str, str]:
    """A colour per name: a model's own (``MODEL_COLORS``), the others the palette's free
    colours in order. Pass the result to several figures to keep other names consistent too."""
    names = list(dict.fromkeys(names))
    taken = {MODEL_COLORS[n] for n in names if n in MODEL_COLORS}
    free = iter([f"C{i}" for i in range(10) if f"C{i}" not in taken] * 2)
    return {n: MODEL_COLORS.get(n) or next(free) for n in names}


def style() -> None:
    """Apply the report's plot style (call once per notebook, never at import)."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    mpl.rcParams.update(
        {"figure.dpi": 100, "savefig.dpi": 150, "axes.titleweight": "bold", "figure.constrained_layout.use": True}
    )
    from IPython import get_ipython

    if get_ipython() is not None:
        # Importing pyplot activates the inline backend, which registers the PNG
        # formatter that lets a cell display a returned Figure; "retina" doubles
        # the pixels so the figures stay sharp in the PDF.
        import matplotlib.pyplot  # noqa: F401
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")


def _axes(ax, figsize):
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize)
    return fig, fig.add_subplot()


def class_balance(counts: dict[str, np.ndarray], ax=None):
    """Grouped bars: share of each digit in each split (``{"train": counts, ...}``)."""
    fig, ax = _axes(ax, (7.5, 3.2))
    names = list(counts)
    width = 0.8 / len(names)
    digits = np.arange(10)
    for i, name in enumerate(names):
        share = 100 * np.asarray(counts[name]) / np.sum(counts[name])
        ax.bar(digits + (i - (len(names) - 1) / 2) * width, share, width, label=name)
    ax.set_xticks(digits)
    ax.set_xlabel("digit")
    ax.set_ylabel("share of split (%)")
    ax.set_ylim(0, 1.3 * ax.get_ylim()[1])  # head-room so the legend covers no bar
    ax.legend(ncols=len(names), loc="upper center", frameon=True)
    return fig


def digit_grid(images: np.ndarray, titles: list[str] | None = None, ncols: int = 10, cell: float = 0.75, fig=None):
    """Images in a grid, optional title over each; returns the figure."""
    n = len(images)
    nrows = int(np.ceil(n / ncols))
    fig = fig or Figure(figsize=(cell * ncols, cell * nrows * (1.6 if titles else 1.0)))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < n:
            ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=images[i].max() or 1)
            if titles:
                ax.set_title(titles[i], fontsize=7, fontweight="normal")
    return fig


def samples_per_class(images: np.ndarray, labels: np.ndarray, per_class: int = 10, seed: int = 0, fig=None):
    """A row of random examples for each digit (rows 0-9)."""
    rng = np.random.default_rng(seed)
    picks = [rng.choice(np.flatnonzero(labels == d), per_class, replace=False) for d in range(10)]
    return digit_grid(images[np.concatenate(picks)], ncols=per_class, cell=0.55, fig=fig)


def mean_images(images: np.ndarray, labels: np.ndarray, fig=None):
    """The mean image of each digit class."""
    means = np.stack([images[labels == d].mean(axis=0) for d in range(10)])
    return digit_grid(means, ncols=10, cell=0.8, fig=fig)


def intensity_histogram(images: np.ndarray, ax=None):
    """Histogram of pixel intensities (log count) over all images."""
    fig, ax = _axes(ax, (7.5, 3.0))
    counts = np.bincount(np.asarray(images, dtype=np.uint8).ravel(), minlength=256)
    ax.bar(np.arange(256), counts, width=1.0, color="C0")
    ax.set_yscale("log")
    ax.set_xlim(-1, 256)
    ax.set_xlabel("pixel intensity (0 = background, 255 = ink)")
    ax.set_ylabel("pixels (log scale)")
    return fig


def learning_curves(histories: list[dict[str, list[float]]], fig=None):
    """Loss and accuracy per epoch, train and validation, mean with min-max band over seeds."""
    curves = {
        metric: {"train": [h[metric] for h in histories], "validation": [h[f"val_{metric}"] for h in histories]}
        for metric in ("loss", "accuracy")
    }
    return curves_by_group(curves, fig=fig, sharey=False)


def misclassified_grid(
    images: np.ndarray, y_true: np.ndarray, probs: np.ndarray, indices: np.ndarray, ncols: int = 8, fig=None
):
    """Wrongly classified digits titled 'true → predicted' over the confidence."""
    pred = probs[indices].argmax(axis=1)
    titles = [f"{t} → {p}\n{probs[i, p]:.0%}" for i, t, p in zip(indices, y_true[indices], pred)]
    fig = digit_grid(images[indices], titles=titles, ncols=ncols, cell=0.8, fig=fig)
    for ax in fig.axes:
        ax.title.set_fontsize(9)
    return fig


def lr_sensitivity(sweep, ax=None):
    """Validation accuracy against learning rate (log scale), one line per optimizer.

    Args:
        sweep: DataFrame with columns optimizer, learning_rate, val_accuracy (one row per seed).
    """
    fig, ax = _axes(ax, (7.5, 3.6))
    for optimizer, rows in sweep.groupby("optimizer", sort=False):
        stats = rows.groupby("learning_rate")["val_accuracy"].agg(["mean", "min", "max"])
        ax.errorbar(
            stats.index,
            100 * stats["mean"],
            marker="o",
            capsize=3,
            label=optimizer,
            yerr=[100 * (stats["mean"] - stats["min"]), 100 * (stats["max"] - stats["mean"])],
        )
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("validation accuracy (%)")
    low = 100 * sweep.groupby(["optimizer", "learning_rate"])["val_accuracy"].mean().max() - 8
    ax.set_ylim(bottom=max(low, 100 * sweep["val_accuracy"].min() - 0.5))
    ax.legend()
    return fig


def mean_std_heatmap(mean, std, ax=None, label: str = "validation accuracy (%)"):
    """Heatmap of a mean table, each cell annotated 'mean ± std' (values in %)."""
    import seaborn as sns

    fig, ax = _axes(ax, (7.0, 3.6))
    notes = (100 * mean).map("{:.2f}".format) + " ± " + (100 * std).map("{:.2f}".format)
    sns.heatmap(
        100 * mean,
        annot=notes,
        fmt="",
        cmap="viridis",
        ax=ax,
        cbar_kws={"label": label},
        linewidths=0.5,
        annot_kws={"fontsize": 9},
    )
    ax.set_xlabel(mean.columns.name or "")
    ax.set_ylabel(mean.index.name or "")
    ax.tick_params(axis="y", rotation=0)
    return fig


def curves_by_group(
    curves, metric_label: str = "", fig=None, sharey: bool = True, palette: dict[str, str] | None = None
):
    """One panel per outer key, one line per inner key (mean over seeds, min-max band).

    Args:
        curves: {panel: {line: array of shape (seeds, epochs)}}.
        sharey: one y scale for all panels (False when panels show different metrics).
        palette: line -> colour (default: :func:`colors`).
    """
    palette = palette or colors(name for lines in curves.values() for name in lines)
    ncols = min(len(curves), 2)
    nrows = int(np.ceil(len(curves) / ncols))
    fig = fig or Figure(figsize=(8.0, 2.6 * nrows))
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=sharey, squeeze=False).ravel()
    for ax in axes[len(curves) :]:
        ax.set_axis_off()
    for ax, (panel, lines) in zip(axes, curves.items()):
        for name, runs in lines.items():
            runs = np.asarray(runs)
            epochs = np.arange(1, runs.shape[1] + 1)
            ax.plot(
                epochs,
                runs.mean(axis=0),
                color=palette[name],
                label=name,
                marker="o" if len(epochs) < 4 else None,
                markersize=3,
            )
            ax.fill_between(epochs, runs.min(axis=0), runs.max(axis=0), color=palette[name], alpha=0.2)
        ax.set_title(panel, fontsize=10)
        ax.set_xlim(0.5, runs.shape[1] + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[-ncols:]:
        ax.set_xlabel("epoch")
    for ax in axes[::ncols]:
        ax.set_ylabel(metric_label)
    axes[0].legend(fontsize=8)
    return fig


def bars(
    values: dict[str, float],
    ylabel: str,
    ax=None,
    fmt: str = "{:.2f}",
    errors: dict[str, float] | None = None,
    zoom: bool = False,
    palette: dict[str, str] | None = None,
):
    """A labelled bar per key, optionally with ± error bars; ``zoom`` starts the axis near the data;
    ``palette``: key -> colour (default: :func:`colors`)."""
    fig, ax = _axes(ax, (7.0, 2.6))
    names = list(values)
    palette = palette or colors(names)
    heights = np.array([values[n] for n in names])
    err = None if errors is None else np.array([errors[n] for n in names])
    ax.bar(names, heights, yerr=err, capsize=4 if err is not None else 0, color=[palette[n] for n in names])
    top = heights + (0 if err is None else err)
    for i, n in enumerate(names):
        ax.annotate(
            fmt.format(values[n]),
            (i, top[i]),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_ylabel(ylabel)
    low = heights.min() - 3 * (np.ptp(top) or 1) if zoom else 0
    ax.set_ylim(low, top.max() + 0.25 * (top.max() - low))
    if max(len(n) for n in names) > 8:
        for label in ax.get_xticklabels():
            label.set_rotation(30)
            label.set_horizontalalignment("right")
    return fig


def capacity(frame, fig=None):
    """Train and validation accuracy, and their gap, against parameter count; a line per depth.

    Args:
        frame: DataFrame with columns depth, parameters, train_accuracy, val_accuracy.
    """
    fig = fig or Figure(figsize=(9.0, 3.2))
    ax_acc, ax_gap = fig.subplots(1, 2)
    for i, (depth, rows) in enumerate(frame.sort_values("parameters").groupby("depth")):
        label = f"{depth} hidden layer{'s' if depth > 1 else ''}"
        ax_acc.plot(rows["parameters"], 100 * rows["train_accuracy"], "--", marker="o", color=f"C{i}")
        ax_acc.plot(rows["parameters"], 100 * rows["val_accuracy"], "-", marker="o", color=f"C{i}", label=label)
        ax_gap.plot(
            rows["parameters"],
            100 * (rows["train_accuracy"] - rows["val_accuracy"]),
            marker="o",
            color=f"C{i}",
            label=label,
        )
    for ax in (ax_acc, ax_gap):
        ax.set_xscale("log")
        ax.set_xlabel("parameters (log scale)")
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.set_title("dashed: train, solid: validation", fontsize=9, fontweight="normal")
    ax_gap.set_ylabel("train − validation (points)")
    ax_acc.legend(fontsize=8)
    return fig


def accuracy_vs_time(curves: dict[str, list[tuple[list[float], list[float]]]], ax=None, floor: float | None = None):
    """Validation accuracy against cumulative training seconds, one colour per model.

    Args:
        curves: {model: [(epoch seconds, validation accuracy per epoch) per seed]}.
        floor: lowest accuracy (fraction) shown, so the interesting top stays readable;
            ignored when every point lies below it (short smoke runs).
    """
    fig, ax = _axes(ax, (7.0, 3.4))
    palette = colors(curves)
    for name, runs in curves.items():
        for j, (seconds, accuracy) in enumerate(runs):
            ax.plot(
                np.cumsum(seconds),
                100 * np.asarray(accuracy),
                color=palette[name],
                marker="o",
                markersize=2.5,
                alpha=1.0 if j == 0 else 0.45,
                label=name if j == 0 else None,
            )
    ax.set_xscale("log")
    ax.set_xlabel("training seconds (log scale)")
    ax.set_ylabel("validation accuracy (%)")
    # An accuracy axis ends at 100 % (matplotlib's margin would run it past).
    bottom, top = ax.get_ylim()
    top = min(top, 100.0)
    ax.set_ylim(100 * floor if floor is not None and 100 * floor < top else bottom, top)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def grouped_bars(frame, ylabel: str, ax=None):
    """Bars grouped by the frame's index, one colour per column (e.g. errors per digit per model)."""
    fig, ax = _axes(ax, (7.0, 2.6))
    width = 0.8 / len(frame.columns)
    x = np.arange(len(frame.index))
    palette = colors(str(c) for c in frame.columns)
    for i, column in enumerate(frame.columns):
        ax.bar(
            x + (i - (len(frame.columns) - 1) / 2) * width,
            frame[column],
            width,
            label=str(column),
            color=palette[str(column)],
        )
    ax.set_xticks(x, [str(v) for v in frame.index])
    ax.set_xlabel(frame.index.name or "")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    return fig


def confusion(y_true: np.ndarray, y_pred: np.ndarray, normalize: bool = False, ax=None, title: str = ""):
    """Confusion matrix as a seaborn heatmap: counts, or each true digit's row in percent."""
    import seaborn as sns
    from matplotlib.colors import LogNorm
    from sklearn.metrics import confusion_matrix

    fig, ax = _axes(ax, (4.6, 4.0))
    cm = confusion_matrix(y_true, y_pred, labels=range(10), normalize="true" if normalize else None)
    values, smallest, fmt = (100 * cm, 0.05, "%.1f") if normalize else (cm, 1, "%d")
    # Blank the cells that would print as zero so the errors stand out, and colour on a
    # log scale: the diagonal is a hundred times the largest error.
    annot = np.where(values >= smallest, np.char.mod(fmt, values), "")
    sns.heatmap(
        values,
        annot=annot,
        fmt="",
        cmap="Blues",
        cbar=False,
        square=True,
        annot_kws={"fontsize": 6.5},
        norm=LogNorm(vmin=smallest, vmax=max(values.max(), 2 * smallest)),
        ax=ax,
    )
    ax.grid(False)  # the theme's grid would show through the blank cells
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(title, fontsize=9)
    return fig


def confusion_panels(y_true: np.ndarray, predictions: dict[str, np.ndarray], fig=None):
    """Counts (top row) and row-normalized percentages (bottom row) for each model (columns)."""
    n = len(predictions)
    fig = fig or Figure(figsize=(4.0 * n, 7.6))
    axes = fig.subplots(2, n, squeeze=False)
    for j, (name, y_pred) in enumerate(predictions.items()):
        confusion(y_true, y_pred, ax=axes[0, j], title=f"{name}: counts")
        confusion(y_true, y_pred, normalize=True, ax=axes[1, j], title=f"{name}: % of each true digit")
    return fig


def reliability_diagram(curves: dict[str, dict], ax=None):
    """Accuracy against confidence per bin, one line per curve, with the diagonal of perfect calibration.

    Args:
        curves: {label: analysis.reliability(...) result}, in pairs per model: before
            scaling (dotted) and after (solid), each pair in one colour.
    """
    fig, ax = _axes(ax, (4.6, 4.0))
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="perfect calibration")
    palette = colors(label.split(",")[0] for label in curves)  # "CNN, before" -> the CNN's colour
    for i, (label, table) in enumerate(curves.items()):
        ax.plot(
            table["confidence"],
            table["accuracy"],
            marker="o",
            markersize=3,
            color=palette[label.split(",")[0]],
            linestyle=":" if i % 2 == 0 else "-",
            label=label,
        )
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, loc="upper left")
    return fig


def saliency_grid(images: np.ndarray, maps: np.ndarray, titles: list[str], fig=None):
    """Each digit above its saliency map (what the model's output is most sensitive to)."""
    n = len(images)
    fig = fig or Figure(figsize=(0.85 * n, 2.2))
    axes = fig.subplots(2, n, squeeze=False)
    for i in range(n):
        axes[0, i].imshow(images[i], cmap="gray_r", vmin=0, vmax=1)
        axes[0, i].set_title(titles[i], fontsize=7, fontweight="normal")
        axes[1, i].imshow(images[i], cmap="gray_r", vmin=0, vmax=1, alpha=0.35)
        axes[1, i].imshow(maps[i], cmap="magma", alpha=0.75, vmin=0, vmax=1)
    for ax in axes.flat:
        ax.set_axis_off()
    return fig


def robustness(curves: dict[str, dict[str, tuple[list[float], list[float]]]], fig=None):
    """Test accuracy against perturbation strength: one panel per perturbation, one line per model.

    Args:
        curves: {panel title (with unit): {model: (levels, accuracies as fractions)}}.
    """
    ncols = min(len(curves), 2)
    nrows = int(np.ceil(len(curves) / ncols))
    fig = fig or Figure(figsize=(8.0, 2.6 * nrows))
    axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False).ravel()
    for ax in axes[len(curves) :]:
        ax.set_axis_off()
    palette = colors(model for lines in curves.values() for model in lines)
    for ax, (panel, lines) in zip(axes, curves.items()):
        for model, (levels, accuracy) in lines.items():
            ax.plot(levels, 100 * np.asarray(accuracy), marker="o", markersize=3, color=palette[model], label=model)
        ax.set_xlabel(panel, fontsize=9)
        ax.set_ylim(0, 102)
    for ax in axes[::ncols]:
        ax.set_ylabel("test accuracy (%)")
    axes[0].legend(fontsize=8, loc="lower left")
    return fig
