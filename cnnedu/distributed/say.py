"""One output line from a worker process, written whole.

torchrun's workers share one pipe to the launcher, and the launcher runs them with
``PYTHONUNBUFFERED=1`` so that lines arrive as they happen. Unbuffered, ``print(text)`` writes
the text and its newline in two system calls, and another rank's line can land between them:
a CI run of lesson 06 once read "fault switch: exiting at step 31" with a neighbour's output
glued to its end, and the lesson's check of that line failed. One ``write`` of the whole line
(shorter than the pipe's atomic size, 4096 bytes on Linux) cannot be split that way.
"""

from __future__ import annotations

import sys


def say(line: str) -> None:
    """Write ``line`` and its newline to stdout in one call, then flush."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
