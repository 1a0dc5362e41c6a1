"""The architecture sweep behind notebook 05's CNN: test accuracy per seed for candidate CNNs.

Each candidate is trained exactly as notebook 05 trains "our CNN" (54,000 training
images, Adam with a linear warm-up and a cosine decay to zero, peak rate 0.003,
batch 128, the same RandomAffine augmentation unless the name ends in ``_noaug``),
for several seeds, and scored on the test set; the seeds' averaged probabilities
give the ensemble's accuracy. It answers which network reaches the 99.5 % target
at the BN-CNN's cost per image, which a 2-core CPU cannot answer in a session.

So it runs on a GPU machine, with Keras on JAX (``KERAS_BACKEND=jax``): that machine
has JAX but no TensorFlow, and the study's builders and training loop only need
Keras, so this script hands them plain Keras. Many small runs share the GPU, one
process each. Accuracy does not depend on the device (the BN-CNN scored
99.32 % here against 99.31 % on the CPU, 3 seeds each); CPU time is measured on
the CPU, not here.

    python benchmarks/cnn_sweep.py PLAN OUT_DIR [--workers 12] [--deadline 420]

PLAN has one line per candidate: ``NAME SEEDS EPOCHS WARMUP_EPOCHS``; NAME is an
architecture (``bn``: paper 002's BN-CNN, which may take the augmentation here;
``small``: the same with 16 and 32 filters; ``vggW``: our CNN's design
with W and 2W filters; ``half``: three convolutions per block, the last with stride
2, 16 and 32 filters), optionally
``_noaug``, then ``@b=BATCH`` and ``@lr=RATE`` overrides. Writes OUT_DIR/summary.json.
MNIST_DATA_DIR must hold the verified MNIST files (carry them to the GPU machine).
Results of the runs so far: benchmarks/results/cnn_sweep.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def plain_keras():
    """Keras on the backend KERAS_BACKEND names (JAX by default), handed to mnist_utils' builders."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"  # many processes share one GPU
    import keras

    from mnist_utils import backend

    backend.keras = lambda: keras
    return keras


def build(name: str, keras):
    """The uncompiled candidate ``name`` (its architecture part; see the module docstring)."""
    from mnist_utils import models

    L = keras.layers
    base = name.split("@")[0]
    augment = {"rotation_degrees": 10.0, "shift": 0.1, "zoom": 0.1}
    if base.endswith("_noaug"):
        base, augment = base[: -len("_noaug")], None
    if base.startswith("vgg"):
        width = int(base[3:])
        return models.build_cnn(widths=(width, 2 * width), augment=augment)
    if base in ("bn", "small"):  # paper 002's BN-CNN (32, 64 filters), or at half its width
        widths = (32, 64) if base == "bn" else (16, 32)
        return models.build_cnn(widths=widths, convs_per_block=1, augment=augment, name=base)

    def conv(x, filters, size=3, stride=1, padding="valid"):
        x = L.Conv2D(filters, size, strides=stride, padding=padding, activation="relu")(x)
        return L.BatchNormalization()(x)

    inputs, x = models._image_input(augment)
    if base == "half":  # after C. Deotte's Kaggle MNIST design, at half its width
        for filters in (16, 32):
            x = conv(conv(x, filters), filters)
            x = L.Dropout(0.4)(conv(x, filters, 5, 2, "same"))
        x = L.Flatten()(x)
        x = L.Dropout(0.4)(L.BatchNormalization()(L.Dense(128, activation="relu")(x)))
    else:
        raise ValueError(f"unknown architecture {base!r}")
    return keras.Model(inputs, L.Dense(10, activation="softmax", dtype="float32")(x), name=base)


def train_one(name: str, seed: int, epochs: int, warmup: int, results: Path) -> None:
    """One seed of one candidate: writes its test probabilities and scores to ``results``."""
    keras = plain_keras()
    import numpy as np

    from mnist_utils import data, models, training

    splits = data.split(data.load_mnist(download=False))
    options = dict(part.split("=") for part in name.split("@")[1:])
    batch, rate = int(options.get("b", 128)), float(options.get("lr", 0.003))
    steps = int(np.ceil(len(splits.y_train) / batch))
    schedule = training.learning_rate_schedule("cosine", rate, epochs, steps, warmup_epochs=warmup)
    run = training.train(
        lambda: build(name, keras), splits, seed, epochs=epochs, batch_size=batch, learning_rate=schedule
    )
    # Appended, not Path.with_suffix: a name such as "vgg12@lr=0.005" holds a dot, and with_suffix
    # would cut it there, so every seed of that candidate would write one file.
    stem = f"{name}_e{epochs}_s{seed}"
    np.save(results / f"{stem}.npy", run.test_probs)
    (results / f"{stem}.json").write_text(
        json.dumps(
            {
                "name": name,
                "seed": seed,
                "epochs": epochs,
                "warmup": warmup,
                "test": run.test_accuracy,
                "val": run.history["val_accuracy"],
                "macs": models.multiply_adds(run.model),
                "params": run.model.count_params(),
            }
        )
    )
    print(f"{name} e{epochs} seed {seed}: {100 * run.test_accuracy:.2f} %", flush=True)


def summarize(results: Path, y_test) -> list[dict]:
    """Per candidate and budget: each seed's test accuracy, their mean, and ensembles of the first 3, 5, 10 seeds."""
    import numpy as np

    groups = {}
    for path in sorted(results.glob("*.json")):
        run = json.loads(path.read_text())
        run["probs"] = np.load(path.with_suffix(".npy"))  # "x@lr=0.005_e10_s0.json": only ".json" goes
        groups.setdefault((run["name"], run["epochs"]), []).append(run)
    summary = []
    for (name, epochs), runs in sorted(groups.items()):
        runs.sort(key=lambda r: r["seed"])
        tests = [r["test"] for r in runs]
        ensemble = {
            k: float(np.mean(np.mean([r["probs"] for r in runs[:k]], axis=0).argmax(1) == y_test))
            for k in (3, 5, 10)
            if len(runs) >= k
        }
        summary.append(
            {
                "name": name,
                "epochs": epochs,
                "warmup": runs[0]["warmup"],
                "seeds": len(runs),
                "macs": runs[0]["macs"],
                "params": runs[0]["params"],
                "mean": float(np.mean(tests)),
                "tests": tests,
                "ensemble": ensemble,
                "val_curves": [r["val"] for r in runs],
            }
        )
        print(
            f"{name:24s} {epochs:3d} epochs {len(runs):3d} seeds {runs[0]['macs'] / 1e6:5.2f} M multiply-adds: "
            f"mean {100 * np.mean(tests):.2f} % (min {100 * min(tests):.2f}, max {100 * max(tests):.2f}), "
            f"ensembles {ensemble}",
            flush=True,
        )
    return summary


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("plan", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--workers", type=int, default=12, help="training processes at a time")
    p.add_argument("--deadline", type=float, default=420, help="seconds after which no new run starts")
    args = p.parse_args()

    tasks = []
    for line in args.plan.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, seeds, epochs, warmup = line.split()
            tasks += [(name, seed, int(epochs), int(warmup)) for seed in range(int(seeds))]
    tasks.sort(key=lambda t: -t[2])  # longest first, so the deadline cuts short runs
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:

        def run(task):
            if time.time() - start > args.deadline:
                return
            proc = subprocess.run(
                [sys.executable, __file__, "--one", *map(str, task), tmp], capture_output=True, text=True, check=False
            )
            print(
                f"[{time.time() - start:.0f} s] "
                + (proc.stdout.strip() if proc.returncode == 0 else f"FAILED {task}: {proc.stderr[-2000:]}"),
                flush=True,
            )

        with ThreadPoolExecutor(args.workers) as pool:
            list(pool.map(run, tasks))
        from mnist_utils import data

        summary = summarize(Path(tmp), data.load_mnist(download=False).y_test)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        name, seed, epochs, warmup, results = sys.argv[2:7]
        train_one(name, int(seed), int(epochs), int(warmup), Path(results))
    else:
        main()
