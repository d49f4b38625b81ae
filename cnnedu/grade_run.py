"""Run one copy of a learner's notebook for grading: quick mode, no network, a time budget.

    python -m cnnedu.grade_run IN.ipynb OUT.ipynb SECONDS     (what ``cnnedu grade`` starts)

The copy is changed before it runs, never the learner's file: a first cell (tagged
``cnnedu-grader``) turns off network access inside the kernel, and a parameters line
``QUICK = ...`` becomes ``QUICK = True`` (grades do not depend on how long a model trains).
Every cell runs even if an earlier one raised (a crash in one exercise must not hide the others),
and the executed copy is saved after each cell, so a notebook stopped at the time limit still
shows the verdicts it reached. The last line printed is a JSON status.

No network is enforced in Python, inside the kernel (``socket`` refuses any address but the
machine itself; proxies for child processes point nowhere and pip gets no index): enough for
a lesson that tries a download by mistake, not a sandbox against hostile code.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

GRADER_TAG = "cnnedu-grader"
NO_NETWORK = '''\
import socket as _grader_socket

def _grader_local(address):
    host = address[0] if isinstance(address, tuple) else address
    return host in ("127.0.0.1", "::1", "localhost", "") or not isinstance(host, str) \\
        or host.startswith("127.")

def _grader_connect(self, address, _connect=_grader_socket.socket.connect):
    internet = (_grader_socket.AF_INET, _grader_socket.AF_INET6)
    if self.family in internet and not _grader_local(address):
        raise OSError(f"network access is off while the notebook is graded (tried {address})")
    return _connect(self, address)

def _grader_getaddrinfo(host, *args, _lookup=_grader_socket.getaddrinfo, **kwargs):
    if not _grader_local((host,)):
        raise OSError(f"network access is off while the notebook is graded (looked up {host})")
    return _lookup(host, *args, **kwargs)

_grader_socket.socket.connect = _grader_connect
_grader_socket.getaddrinfo = _grader_getaddrinfo
import urllib.request as _grader_urllib

_grader_urllib.getproxies = dict   # the proxies below are for child processes; here, say why'''
# child processes (pip, torchrun, curl): proxies that refuse, and no package index
OFFLINE_ENV = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
               "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
               "no_proxy": "", "NO_PROXY": "", "PIP_NO_INDEX": "1"}


def prepare(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The copy to run: the no-network cell first, quick mode forced in the parameters line."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = re.sub(r"^QUICK\s*=.*$", "QUICK = True   # set by the grader",
                                 cell.source, flags=re.M)
    guard = nbformat.v4.new_code_cell(NO_NETWORK, metadata={"tags": [GRADER_TAG]})
    notebook.cells.insert(0, guard)
    return notebook


def run(source: Path, target: Path, budget_s: float) -> dict:
    """Execute ``source`` into ``target`` within ``budget_s`` seconds; return what happened."""
    if budget_s <= 0:
        raise ValueError(f"budget_s must be positive, got {budget_s}")
    notebook = prepare(nbformat.read(source, as_version=4))
    start = time.monotonic()

    def remaining(cell) -> float:                     # each cell gets what is left of the budget
        return max(1.0, budget_s - (time.monotonic() - start))

    def save(**_: object) -> None:
        nbformat.write(notebook, target)

    client = NotebookClient(notebook, timeout_func=remaining, allow_errors=True,
                            kernel_name="python3", on_cell_executed=save,
                            resources={"metadata": {"path": str(target.parent)}})
    status = "ran"
    try:
        client.execute()
    except CellTimeoutError:
        status = "time limit"
    except DeadKernelError:
        status = "kernel died"
    nbformat.write(notebook, target)
    return {"status": status, "seconds": round(time.monotonic() - start, 1)}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(run(Path(args[0]), Path(args[1]), float(args[2]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
