"""Worker output lines are written whole (cnnedu.distributed.say): two ranks share one pipe
under ``PYTHONUNBUFFERED=1``, where ``print`` writes a line's text and its newline in two
calls, so another rank's output could land inside the line (it did once in CI, and lesson
06's check of the fault-switch line failed)."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import cnnedu.distributed as distributed
from cnnedu.distributed.say import say

WORKER_MODULES = ("worker.py", "demo.py")        # what runs inside torchrun's processes


class Recorder(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def write(self, text: str) -> int:
        self.calls.append(text)
        return super().write(text)


def test_say_writes_the_line_and_its_newline_in_one_call(monkeypatch):
    out = Recorder()
    monkeypatch.setattr("sys.stdout", out)
    say("[rank 1] fault switch: exiting at step 31")
    assert out.calls == ["[rank 1] fault switch: exiting at step 31\n"]


def test_print_would_not_have(monkeypatch):
    """The failure this guards against, shown on the same recorder: print splits the line."""
    out = Recorder()
    monkeypatch.setattr("sys.stdout", out)
    print("[rank 1] fault switch: exiting at step 31", flush=True)
    assert len(out.calls) == 2


def test_worker_modules_print_nothing_directly():
    folder = Path(distributed.__file__).parent
    for name in WORKER_MODULES:
        tree = ast.parse((folder / name).read_text())
        prints = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
                  and isinstance(node.func, ast.Name) and node.func.id == "print"]
        assert not prints, f"{name} calls print() at lines {prints}: use say() (whole lines)"
