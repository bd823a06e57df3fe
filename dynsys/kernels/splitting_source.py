"""The compiled loop's body of a splitting step (:class:`~dynsys.steppers.symplectic.Splitting`).

Kicks and drifts in the numpy loop's order and rounding: for each, the whole field at
t + tau h (tau the node of its kick, read as ``x{node}``), then v += (h d) g[v] for a kick or
q += (h c) g[q] for a drift, the product (h d) formed first as ``step_into`` forms it.
"""

from __future__ import annotations

from ..steppers.symplectic import Splitting


def splitting_body(stepper: Splitting, ys: list[str], split: int, driven: bool) -> list[str]:
    """Lines that apply ``stepper``'s kicks (states ``split`` on) and drifts (states before
    ``split``) to the variables ``ys``, calling ``field(t + tau * h, (y0, ...), x, p)``."""
    body = []
    for kick, coef, node in stepper.operations:
        x = f"x{node}" if driven else "0.0"
        body.append(f"g = field(t + {stepper.nodes[node]!r} * h, ({', '.join(ys)},), {x}, p)")
        part = range(split, len(ys)) if kick else range(split)
        body += [f"{ys[j]} = {ys[j]} + (h * {coef!r}) * g[{j}]" for j in part]
    return body
