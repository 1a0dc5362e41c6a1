"""What the runner needs from the machine and records of it: the ``mnist-study`` Jupyter kernel,
nbconvert's configuration for plain ``jupyter nbconvert``, and the Python, packages, CPU, GPUs and
git state that the run record and the report's appendix show."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from mnist_utils import artifacts
from mnist_utils.book.record import read as read_json

KERNEL_NAME = "mnist-study"
# The kernel that notebooks name in their metadata, as install_kernel registers it.
KERNELSPEC = {"name": KERNEL_NAME, "display_name": f"Python ({KERNEL_NAME})", "language": "python"}
# Set in the kernel's environment so TensorFlow's C++ start-up lines never
# reach a notebook (they must be set before TensorFlow is imported).
KERNEL_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3"}
# CRITICAL, not ERROR: jupyter_client interrupts a kernel before shutting it down, and a kernel
# that is still busy then logs "KeyboardInterrupt caught in kernel" as an error. Failures of the
# notebook itself still reach the runner through papermill.
KERNEL_QUIET = "--IPKernelApp.log_level=CRITICAL"
# The packages whose versions change results: a new version re-runs every notebook.
RESULT_PACKAGES = (
    "tensorflow",
    "keras",
    "numpy",
    "pandas",
    "scikit-learn",
    "scikit-image",
    "scipy",
    "matplotlib",
    "seaborn",
    "ai-edge-litert",
    "pillow",
)
# The packages whose versions the reproducibility record lists: those, and the ones that run the notebooks.
RECORDED_PACKAGES = (*RESULT_PACKAGES, "papermill", "nbconvert", "ipykernel", "jupyterlab")


def ensure_kernel(log=None) -> None:
    """Register the ``mnist-study`` Jupyter kernel for this Python unless it is already current, and
    the environment's nbconvert configuration likewise."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    log = log or print
    install_nbconvert_config()
    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
        if (
            Path(spec.argv[0]).resolve() == Path(sys.executable).resolve()
            and KERNEL_QUIET in spec.argv
            and spec.env == KERNEL_ENV
        ):
            return
    except NoSuchKernel:
        pass
    install_kernel()
    log(f"Registered Jupyter kernel {KERNEL_NAME!r} for {sys.executable}")


# Plain `jupyter nbconvert --to pdf` in this environment uses the project's notebook template, which
# sets a notebook rendered in Chinese in the report's CJK fonts (templates/mnist_notebook).
NBCONVERT_CONFIG = {
    "LatexExporter": {
        "template_name": "mnist_notebook",
        "extra_template_basedirs": [str(Path(__file__).parent / "templates")],
    }
}


def nbconvert_config_file(prefix: str | os.PathLike | None = None) -> Path:
    """The environment's nbconvert configuration, which plain ``jupyter nbconvert`` reads."""
    return Path(prefix or sys.prefix) / "etc" / "jupyter" / "jupyter_nbconvert_config.json"


def install_nbconvert_config(prefix: str | os.PathLike | None = None) -> Path:
    """Add :data:`NBCONVERT_CONFIG` to the environment's nbconvert configuration, keeping the rest;
    the file is written only when that changes it."""
    path = nbconvert_config_file(prefix)
    config = read_json(path)
    wanted = {
        **config,
        **{section: {**config.get(section, {}), **values} for section, values in NBCONVERT_CONFIG.items()},
    }
    if wanted != config:
        artifacts.save_json(path, wanted)
    return path


def install_kernel(user: bool = False) -> str:
    """Install the ``mnist-study`` kernelspec (into this environment unless ``user``), and the
    environment's nbconvert configuration (:func:`install_nbconvert_config`)."""
    from ipykernel.kernelspec import install

    if not user:
        install_nbconvert_config()

    where = install(
        user=user,
        prefix=None if user else sys.prefix,
        kernel_name=KERNEL_NAME,
        display_name=KERNELSPEC["display_name"],
        env=KERNEL_ENV,
    )
    # The kernel's own start-up warnings (e.g. about TCP transport) would land in the
    # runner's terminal between the progress lines; errors still show.
    spec_file = Path(where) / "kernel.json"
    spec = json.loads(spec_file.read_text(encoding="utf-8"))
    spec["argv"] = [a for a in spec["argv"] if not a.startswith("--IPKernelApp.log_level")]
    spec["argv"].append(KERNEL_QUIET)
    artifacts.save_json(spec_file, spec)
    return where


def environment_record(root: Path) -> dict:
    """Python, packages, CPU, GPU and git state, for the reproducibility appendix."""

    def git(*args):
        try:
            out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
            return out.stdout.strip() if out.returncode == 0 else None
        except (OSError, subprocess.SubprocessError):
            return None

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpus = []
    if shutil.which("nvidia-smi"):
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
        gpus = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    versions = {}
    for pkg in RECORDED_PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    status = git("status", "--porcelain")
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "gpus": gpus,
        "packages": versions,
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
    }
