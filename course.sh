#!/usr/bin/env bash
# The course's two commands (see README):
#   ./course.sh lab    set up if needed, then open the lessons in JupyterLab
#   ./course.sh test   set up if needed, then run the whole test suite (CNNEDU_SMOKE=1 by default)
# Also: ./course.sh setup   (only install), ./course.sh test -k pooling   (extra pytest arguments)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}

setup() {
    # Reinstall when pyproject.toml changed since the last install.
    if [ ! -x .venv/bin/python ] || [ pyproject.toml -nt .venv/.cnnedu-installed ]; then
        echo "Setting up .venv (first time: a few minutes) ..."
        "$PY" -m venv .venv
        .venv/bin/python -m pip install --quiet --upgrade pip
        # pip picks torch and torchvision together (do not pin one of them alone).
        .venv/bin/python -m pip install --quiet -e '.[dev]'
        touch .venv/.cnnedu-installed
    fi
}

case "${1:-}" in
    setup)
        setup ;;
    lab)
        setup
        shift
        root_flag=()
        # JupyterLab refuses to run as root unless told (containers, CI machines).
        [ "$(id -u)" -eq 0 ] && root_flag=(--ServerApp.allow_root=True)
        exec .venv/bin/jupyter lab --ServerApp.root_dir=notebooks "${root_flag[@]}" "$@" ;;
    test)
        setup
        shift
        export CNNEDU_SMOKE="${CNNEDU_SMOKE:-1}"
        .venv/bin/ruff check cnnedu tests scripts benchmarks
        exec .venv/bin/python -m pytest tests notebooks --nbval-lax \
            --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=900 \
            -p no:cacheprovider -q -rs "$@" ;;
    *)
        echo "usage: ./course.sh lab | test [pytest args] | setup" >&2
        exit 2 ;;
esac
