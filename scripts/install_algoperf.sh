#!/usr/bin/env bash
# Install AlgoPerf (mlcommons/algorithmic-efficiency) and hpfree into a clean venv OUTSIDE
# this repository, so that `runner=algoperf`, scripts/algoperf_smoke.py and the algoperf
# tests run.  AlgoPerf is not on the package index, and its pins differ from hpfree's, hence
# a venv of its own.
#
#   scripts/install_algoperf.sh [--src PATH|URL] [--dest DIR] [--venv DIR] [--jax cpu|gpu]
#
#   --src   an AlgoPerf checkout, a (bare) git directory or a URL to clone
#           (default: https://github.com/mlcommons/algorithmic-efficiency)
#   --dest  where to clone it when --src is not a checkout (default ~/algoperf-src);
#           setuptools_scm needs the .git, so it is a clone, never an export
#   --venv  the venv to create (default ~/algoperf-venv); refused inside this repository
#   --jax   cpu (default) or gpu: algoperf's jax_cpu / jax_gpu extra
#
# Environment: TORCH_SPEC (default "torch==2.5.1", algoperf's own pin; algoperf imports torch
# even for JAX runs, and a CPU wheel will do, e.g. TORCH_SPEC=torch==2.13.0 where that CPU
# wheel is at hand), PYTHON (default python3.11, else python3).
#
# Why each step:
#   1. pip is upgraded FIRST: an old pip silently ignores algoperf's extras
#      ('.[jax_cpu,full]') and leaves the wrong JAX behind.
#   2. algoperf with its JAX extra and every workload's extra (full: criteo1tb, fastmri,
#      ogbg, librispeech_conformer, wmt) pins jax 0.7.0, flax 0.10.7, TF 2.19.
#   3. tensorflow-metadata==1.16.1: a newer one needs protobuf>=5, algoperf pins 4.25.5 and
#      tensorflow_datasets then fails to import.
#   4. hpfree itself (editable) with its test extra; it lifts optax to >=0.2.4 (hpfree's
#      optimizers need it; algoperf pins 0.2.2 for its baselines, which still run), pip
#      reports that conflict and goes on.
#   5. A check: algoperf, jax, flax, optax, tensorflow_datasets and hpfree's runner import.
set -euo pipefail

SRC="https://github.com/mlcommons/algorithmic-efficiency"
DEST="$HOME/algoperf-src"
VENV="$HOME/algoperf-venv"
JAX=cpu
TORCH_SPEC="${TORCH_SPEC:-torch==2.5.1}"
HPFREE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --src) SRC="$2"; shift 2 ;;
    --dest) DEST="$2"; shift 2 ;;
    --venv) VENV="$2"; shift 2 ;;
    --jax) JAX="$2"; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "install_algoperf.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

log() { printf '[install_algoperf] %s\n' "$*"; }
die() { printf 'install_algoperf.sh: %s\n' "$*" >&2; exit 1; }

[[ "$JAX" == cpu || "$JAX" == gpu ]] || die "--jax must be cpu or gpu, got $JAX"
VENV_ABS="$(realpath -m "$VENV")"
case "$VENV_ABS/" in
  "$HPFREE"/*) die "--venv $VENV is inside the hpfree repository; put it outside" ;;
esac

# --- the AlgoPerf checkout ---------------------------------------------------------------
if [[ -f "$SRC/pyproject.toml" && -e "$SRC/.git" ]]; then
  CHECKOUT="$(realpath "$SRC")"
else
  CHECKOUT="$(realpath -m "$DEST")"
  if [[ -f "$CHECKOUT/pyproject.toml" ]]; then
    log "using existing clone $CHECKOUT"
  else
    log "cloning $SRC -> $CHECKOUT"
    git clone -q "$SRC" "$CHECKOUT"
  fi
fi
case "$CHECKOUT/" in
  "$HPFREE"/*) die "the AlgoPerf checkout $CHECKOUT is inside the hpfree repository" ;;
esac
log "algoperf at $(git -C "$CHECKOUT" rev-parse --short HEAD)"

# --- the venv ------------------------------------------------------------------------------
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
[[ -x "$VENV_ABS/bin/python" ]] || "$PY" -m venv "$VENV_ABS"
PIP=("$VENV_ABS/bin/python" -m pip)
log "1/5 upgrading pip"
"${PIP[@]}" install -q --upgrade pip
log "2/5 algoperf[jax_$JAX,full] + $TORCH_SPEC"
"${PIP[@]}" install -q -e "$CHECKOUT[jax_$JAX,full]" "$TORCH_SPEC"
log "3/5 tensorflow-metadata==1.16.1 (protobuf 4 compatible)"
"${PIP[@]}" install -q tensorflow-metadata==1.16.1
log "4/5 hpfree (editable, test extra) from $HPFREE"
"${PIP[@]}" install -q -e "$HPFREE[test]" 2>&1 | grep -v -E "^\s*$" || true
log "5/5 import check"
JAX_PLATFORMS=cpu "$VENV_ABS/bin/python" - <<'EOF'
import algoperf, jax, flax, optax, tensorflow_datasets, torch
import hpfree.runners.algoperf as r
assert r.algoperf_available()
print(f"algoperf {algoperf.__version__} jax {jax.__version__} flax {flax.__version__} "
      f"optax {optax.__version__} tfds {tensorflow_datasets.__version__} torch {torch.__version__}")
EOF
log "done: . $VENV_ABS/bin/activate  (or JAX_PLATFORMS=cpu $VENV_ABS/bin/python scripts/algoperf_smoke.py)"
