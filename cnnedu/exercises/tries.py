"""Wrong tries per exercise in this kernel: one counter for both kinds of check.

Hints grow with the tries (a second wrong try shows more, a third points to the solution), so
the value checks (:mod:`~cnnedu.exercises.numeric`) and the code checks
(:mod:`~cnnedu.exercises.functions`) count in this one place.
"""

from __future__ import annotations

from collections import defaultdict

_wrong_tries: defaultdict[str, int] = defaultdict(int)


def count_wrong_try(key: str) -> int:
    """Note one more wrong try of ``key`` (an exercise id, or a hint for an unnamed check) and
    return how many there have been."""
    _wrong_tries[key] += 1
    return _wrong_tries[key]
