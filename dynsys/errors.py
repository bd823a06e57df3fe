"""Errors raised by dynsys.

Every error a user can cause is a :class:`DynsysError` with a one-line message that names the
offending field and, where there is a finite set, the allowed values.  The command line turns
:class:`InputError` into exit status 2 and any other :class:`DynsysError` into exit status 1.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DynsysError(Exception):
    """Base class of every error dynsys raises on purpose."""


class InputError(DynsysError, ValueError):
    """Bad input: an unknown name, a value out of range, a shape that does not fit."""


class DivergenceError(DynsysError, FloatingPointError):
    """A trajectory left the finite numbers.

    Attributes name where: the method, the step index ``step`` (the first state that is not
    finite is ``s(step)``), its time ``t``, and the batch index ``trajectory`` (None when the
    simulation was not batched).  ``partial`` is the Trajectory of the finite kept steps before
    it (set by :func:`dynsys.simulate`; ``partial_times`` and ``partial_states`` are its arrays).
    """

    def __init__(self, method: str, step: int, t: float, trajectory: int | None, hint: str):
        self.method, self.step, self.t, self.trajectory, self.hint = (
            method,
            step,
            t,
            trajectory,
            hint,
        )
        self.partial = self.partial_times = self.partial_states = None
        where = "" if trajectory is None else f" in trajectory {trajectory}"
        super().__init__(
            f"{method} left the finite numbers at step {step} (t = {t:.6g}){where}; {hint}"
        )


class NewtonFailure(DivergenceError):
    """An implicit method's Newton iteration did not converge (or left the finite numbers):
    reported like a divergence, where and when, with the same attributes."""

    def __init__(self, method: str, step: int, t: float, trajectory: int | None, hint: str):
        super().__init__(method, step, t, trajectory, hint)
        where = "" if trajectory is None else f" in trajectory {trajectory}"
        self.args = (
            f"{method}: Newton's method did not converge on step {step} (to t = {t:.6g})"
            f"{where}; {hint}",
        )


class WriteError(DynsysError):
    """A file could not be written (disk full, permission, not a folder); nothing half-written
    was left and any previous version of the file is intact."""


class KernelError(DynsysError, RuntimeError):
    """A compiled loop that could not be compiled or loaded (the numpy loop can still run)."""


class SolverError(DynsysError, RuntimeError):
    """scipy's solve_ivp did not reach the end of the interval."""


def unknown_name(field: str, name: str, known: Iterable[str]) -> InputError:
    """An :class:`InputError` for ``name`` not among ``known``, with the closest match."""
    known = sorted(known)
    by_lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1)
    hint = f" (did you mean {by_lower[close[0]]!r}?)" if close else ""
    return InputError(f"unknown {field} {name!r}{hint}; known: {', '.join(known)}")
