"""The accuracy-vs-cost frontier: which models no other model beats on both (lesson 08).

A model is on the (Pareto) frontier when no other model is at least as accurate for at most its
cost, and strictly better in one of the two. Accuracy per FLOP, a ratio, favours small models
whatever their accuracy; the frontier asks the question a designer has: for this much compute,
how accurate can a network be?
"""

from __future__ import annotations


def pareto_front(points: dict[str, tuple[float, float]]) -> list[str]:
    """Names on the frontier of ``{name: (cost, accuracy)}`` (lower cost and higher accuracy
    are better), ordered by cost."""
    for name, (cost, _accuracy) in points.items():
        if not cost > 0:
            raise ValueError(f"cost must be positive, got {cost} for {name!r}")
    front = []
    for name, (cost, accuracy) in points.items():
        beaten = any(c <= cost and a >= accuracy and (c < cost or a > accuracy)
                     for other, (c, a) in points.items() if other != name)
        if not beaten:
            front.append(name)
    return sorted(front, key=lambda n: points[n][0])
