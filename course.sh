#!/usr/bin/env bash
# The course's two commands (see README):
#   ./course.sh lab    set up if needed, then open your working copies of the lessons in JupyterLab
#   ./course.sh test   set up if needed, then run the whole test suite (CNNEDU_QUICK=1 by default)
# Also: ./course.sh setup       only install (and fetch the data)
#       ./course.sh data        only fetch full Fashion-MNIST (if it is not found already)
#       ./course.sh reset 02    replace your copy of lesson 02 with the original (old one kept)
#       ./course.sh site        build a static website of the lessons in out/site
#       ./course.sh torch-index --dry-run   the pip command setup would run for PyTorch here
#       ./course.sh test -k pooling   (extra pytest arguments)
#       ./course.sh mutants     mutation testing of the training side (slow; scripts/mutants.py)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
LOG=out/setup.log
# Learners work on copies (git-ignored): JupyterLab's autosave never touches notebooks/.
WORK=${CNNEDU_WORK_DIR:-my_lessons}

say() { printf '\n==> %s\n' "$*"; }

install_failed() {
    echo "Setup failed while $1. pip's full output is in $LOG; its last lines:" >&2
    tail -n 25 "$LOG" >&2
    exit 1
}

torch_index() {
    # The package index for PyTorch, or nothing for PyPI's default. PyPI's Linux x86-64 torch is
    # the CUDA build (with gigabytes of nvidia-* wheels); without an NVIDIA GPU the CPU build
    # from PyTorch's own index is enough. CNNEDU_TORCH_INDEX overrides ("pypi": the default).
    if [ -n "${CNNEDU_TORCH_INDEX:-}" ]; then
        [ "$CNNEDU_TORCH_INDEX" = pypi ] || echo "$CNNEDU_TORCH_INDEX"
    elif [ "$(uname -sm)" = "Linux x86_64" ] && ! nvidia-smi -L >/dev/null 2>&1; then
        echo "https://download.pytorch.org/whl/cpu"
    fi
    return 0
}

torch_pip_args() {
    # pip's arguments for PyTorch from the index torch_index chose, one a line; nothing where
    # the choice is PyPI (torch then comes with the course package, pyproject.toml's ranges).
    local index
    index=$(torch_index)
    if [ -n "$index" ]; then
        printf '%s\n' install --progress-bar off --timeout 15 --retries 1 --index-url "$index" \
            'torch>=2.3,<3' 'torchvision>=0.18,<1'
    fi
}

torch_dry_run() {
    # What setup would run for PyTorch here, without running it (./course.sh torch-index --dry-run).
    local args arg line="would run: python -m pip"
    mapfile -t args < <(torch_pip_args)
    if [ ${#args[@]} -gt 0 ]; then
        for arg in "${args[@]}"; do              # quoted where a shell would need it
            if [[ $arg =~ ^[A-Za-z0-9_./:=-]+$ ]]; then line+=" $arg"; else line+=" '$arg'"; fi
        done
        echo "$line"
    else
        echo "would run: nothing separate: pip takes torch from PyPI's default index with the course package"
    fi
}

install_torch() {
    # The CPU build where it fits (see torch_index); if its index cannot be reached, PyPI's torch
    # (setup never fails for this). pip then keeps whichever torch is there.
    local args
    mapfile -t args < <(torch_pip_args)
    # Also when a torch is there but does not work with its torchvision (a failed earlier setup).
    if [ ${#args[@]} -gt 0 ] && ! torch_pair_works; then
        say "No NVIDIA GPU found: installing the CPU build of PyTorch (a few hundred MB, not the CUDA build's gigabytes) from $(torch_index)"
        if ! .venv/bin/python -m pip "${args[@]}" >>"$LOG" 2>&1; then
            echo "    $(torch_index) could not be reached: PyTorch comes from PyPI instead (on Linux its build includes the CUDA libraries)."
        elif ! torch_pair_works; then
            # pip can succeed with a pair that does not fit: with the CPU index unreachable it
            # fell back to other indexes (a local wheel folder, seen here) and took a CPU torch
            # beside a torchvision built for another torch.
            echo "    the torch and torchvision pip found do not work together: trying again without PyTorch's CPU index."
            .venv/bin/python -m pip uninstall -y torch torchvision >>"$LOG" 2>&1 || true
        fi
    fi
}

torch_pair_works() {
    # torchvision registers its C++ operators against torch at import; a pair built for
    # different torch versions fails there ("operator torchvision::nms does not exist").
    .venv/bin/python -c "import torchvision" >>"$LOG" 2>&1
}

setup() {
    # Reinstall when pyproject.toml changed since the last install.
    if [ ! -x .venv/bin/python ] || [ pyproject.toml -nt .venv/.cnnedu-installed ]; then
        mkdir -p out
        : >"$LOG"
        say "Setting up the course: first time about 2 minutes with a fast connection (PyTorch alone is 200 MB to 2.5 GB to download), longer on a slow one. Full log: $LOG"
        if [ -x .venv/bin/python ]; then
            say "[1/3] Updating the environment (.venv): pyproject.toml changed since the last install"
        else
            say "[1/3] Creating the environment (.venv)"
            "$PY" -m venv .venv >>"$LOG" 2>&1 || install_failed "creating .venv with $PY (needs Python 3.11 or 3.12 with venv)"
        fi
        .venv/bin/python -m pip install --upgrade pip >>"$LOG" 2>&1 || install_failed "upgrading pip"
        say "[2/3] Installing PyTorch, JupyterLab and the course package (the long step)"
        install_torch
        # pip picks torch and torchvision together (do not pin one of them alone).
        .venv/bin/python -m pip install --progress-bar off -e '.[dev]' >>"$LOG" 2>&1 \
            || install_failed "installing the packages"
        torch_pair_works || install_failed "checking that torch and torchvision work together (import torchvision failed; pip's choices are in the log; \`rm -rf .venv\` and setup again, or install a matching pair into .venv by hand)"
        .venv/bin/python -c "import torch; print('    installed: torch', torch.__version__, '(CUDA ' + torch.version.cuda + ')' if torch.version.cuda else '(CPU only)')" \
            || true
        touch .venv/.cnnedu-installed
        say "[3/3] Fetching data"
    fi
    # Cheap when the data is there (one line); never fails setup: offline gets the bundled subset.
    .venv/bin/python -m cnnedu.download || true
}

working_copies() {
    # Copy each lesson the learner does not have yet; never overwrite their copy. The same code
    # as `python -m cnnedu lessons DIR` (cnnedu/handout.py), for a course installed with pip.
    .venv/bin/python -m cnnedu lessons "$WORK" --quiet
}

lab_settings() {
    # The course's JupyterLab settings (no news prompt, no kernel dialog): one source,
    # jupyter/overrides.json, also read by the browser tests (tests/browser/lab_server.py).
    mkdir -p .venv/share/jupyter/lab/settings .venv/etc/ipython
    cp jupyter/overrides.json .venv/share/jupyter/lab/settings/overrides.json
    # Kernels log errors only: not "Kernel is running over TCP without encryption" at every
    # start (the kernel listens on this machine only).
    cp jupyter/ipython_kernel_config.json .venv/etc/ipython/ipython_kernel_config.json
}

case "${1:-}" in
    setup)
        setup ;;
    data)
        if [ ! -x .venv/bin/python ]; then setup; else .venv/bin/python -m cnnedu data; fi ;;
    lab)
        setup
        shift
        working_copies
        lab_settings
        root_flag=()
        # JupyterLab refuses to run as root unless told (containers, CI machines).
        [ "$(id -u)" -eq 0 ] && root_flag=(--ServerApp.allow_root=True)
        say "Starting JupyterLab on your copies in $WORK/ (\`./course.sh reset 02\` restores lesson 02). Stop with Ctrl+C."
        # Warnings and the URL to open only (not every request); --log-level=INFO for all of it.
        # The kernel websocket without Nagle's delay: see cnnedu/jupyter_ws.py.
        exec .venv/bin/jupyter lab --ServerApp.root_dir="$WORK" --log-level=WARN \
            --LabApp.log_level=WARN "${root_flag[@]}" \
            --ServerApp.kernel_websocket_connection_class=cnnedu.jupyter_ws.NoDelayKernelConnection "$@" ;;
    site)
        # a static website of the lessons with their stored outputs, in out/site (see the script)
        setup
        shift
        .venv/bin/python scripts/build_site.py out/site "$@" ;;
    torch-index)
        # which package index setup takes PyTorch from (empty: PyPI); --dry-run: the pip command
        if [ "${2:-}" = --dry-run ]; then torch_dry_run; else torch_index; fi ;;
    reset)
        [ $# -eq 2 ] || { echo "usage: ./course.sh reset NN   (e.g. ./course.sh reset 02)" >&2; exit 2; }
        shopt -s nullglob
        matches=(notebooks/"$2"_*.ipynb)
        [ ${#matches[@]} -eq 1 ] || { echo "no single lesson starts with '$2': $(cd notebooks && ls ./*.ipynb | tr '\n' ' ')" >&2; exit 2; }
        name=$(basename "${matches[0]}")
        mkdir -p "$WORK"
        if [ -e "$WORK/$name" ]; then
            backup="$WORK/$name.$(date +%Y%m%d-%H%M%S).bak"
            mv "$WORK/$name" "$backup"
            echo "your copy was kept as $backup"
        fi
        cp "${matches[0]}" "$WORK/$name"
        echo "$WORK/$name is the original lesson again" ;;
    mutants)
        setup
        shift
        exec .venv/bin/python scripts/mutants.py "$@"
        ;;
    test)
        setup
        shift
        export CNNEDU_QUICK="${CNNEDU_QUICK:-1}"
        .venv/bin/ruff check cnnedu tests scripts benchmarks
        # Tests read the tracked notebooks/, never a learner's copies in $WORK/. Three pytest-xdist
        # workers (CNNEDU_TEST_WORKERS; 0 runs in this process), whole files each: a notebook's
        # cells share one kernel, and much of the suite waits on kernels, servers and browsers
        # (on 2 cores, 3 workers took 7 min 57 s where 2 took 9 min 28 s).
        # pytest-xdist hands out the files with the most tests first (its default), except
        # tests/scheduling_order.py's FIRST_FILES (a test that sleeps 40 s goes first). Handing out
        # the costliest first was tried and was not faster on 2 cores: the heavy multi-process
        # files then ran together (10 min 26 s of tests in a clean clone, 9 min 22 s and 10 min
        # 11 s with this order the same day).
        exec .venv/bin/python -m pytest notebooks tests --nbval-lax \
            --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=900 \
            -n "${CNNEDU_TEST_WORKERS:-3}" --dist loadfile \
            -p no:cacheprovider -q -rs --durations=25 "$@" ;;
    *)
        echo "usage: ./course.sh lab | test [pytest args] | setup | data | reset NN | site | torch-index [--dry-run] | mutants" >&2
        exit 2 ;;
esac
