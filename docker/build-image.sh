#!/bin/sh
# The image's build steps (the Dockerfile's RUN line calls this script; tests/test_container.py
# runs it outside Docker). Installs crftag[serve] into a virtual environment, builds the named
# model, compiles every kernel into numba's cache, and leaves both readable by the user the
# container runs as (numba must be able to write the cache folder it loads from).
#
#   SRC=/src PREFIX=/opt/crftag CRFTAG_MODEL=wnut16-twitter RUN_USER=crftag sh docker/build-image.sh
#
# PYTHON: an interpreter that already has crftag installed (then no virtual environment is made).
# CRFTAG_MIRROR: a mirror of the registry's data (else it is downloaded from the upstream URLs).
# MODEL_SOURCE=download: fetch the published file of the named model instead of building it.
set -eu

SRC=${SRC:-/src}
PREFIX=${PREFIX:-/opt/crftag}
MODEL=${CRFTAG_MODEL:-wnut16-twitter}
export CRFTAG_HOME="$PREFIX/home" NUMBA_CACHE_DIR="$PREFIX/numba-cache"
mkdir -p "$PREFIX" "$CRFTAG_HOME" "$NUMBA_CACHE_DIR"

if [ -z "${PYTHON:-}" ]; then
    python3 -m venv "$PREFIX/venv"
    "$PREFIX/venv/bin/pip" install --no-cache-dir --quiet "$SRC[serve]"
    PYTHON="$PREFIX/venv/bin/python"
fi

# numba keys its cache by the path of crftag's source: run from a folder holding no other copy
# of crftag (`python -m` puts the working directory first on sys.path)
cd "$PREFIX"
echo "== named model $MODEL"
if [ "${MODEL_SOURCE:-build}" = download ]; then
    "$PYTHON" -m crftag models get "$MODEL" --download
else
    "$PYTHON" -m crftag models get "$MODEL"
fi
echo "== numba's kernels"
"$PYTHON" -m crftag warmup -m "$MODEL"
rm -rf "$CRFTAG_HOME/datasets" "$CRFTAG_HOME/resources"  # the training data: not needed to serve

if [ -n "${RUN_USER:-}" ]; then
    chown -R "$RUN_USER" "$NUMBA_CACHE_DIR"
fi
chmod -R a+rX "$PREFIX"
echo "== ready: $PYTHON -m crftag serve -m $MODEL (CRFTAG_HOME=$CRFTAG_HOME NUMBA_CACHE_DIR=$NUMBA_CACHE_DIR)"
