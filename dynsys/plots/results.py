"""What each figure drew, for tests and for the command line's one-line summary."""

from __future__ import annotations

from dataclasses import dataclass

from .equilibria import Equilibrium


@dataclass(frozen=True)
class PhaseInfo:
    """What a phase portrait drew.

    ``trajectories`` counts the trajectories drawn (reference orbits and method runs), each
    once however many panels show it; ``failed`` the initial states whose reference escaped to
    infinity (not drawn);
    ``diverged`` the methods that left the finite numbers; ``section_points`` the points of
    the Poincaré section.
    """

    layout: str
    trajectories: int
    equilibria: tuple[Equilibrium, ...] = ()
    methods: tuple[str, ...] = ()
    diverged: tuple[str, ...] = ()
    failed: int = 0
    section_points: int = 0
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None

    def summary(self) -> str:
        """'3 trajectories; equilibria: (0, 0) unstable focus'."""
        parts = [f"{self.trajectories} trajector{'y' if self.trajectories == 1 else 'ies'}"]
        if self.equilibria:
            eqs = ", ".join(
                f"({', '.join(f'{v:.4g}' for v in e.point)}) {e.kind}" for e in self.equilibria
            )
            parts.append(f"equilibria: {eqs}")
        if self.section_points:
            parts.append(f"{self.section_points} section points")
        if self.diverged:
            parts.append(f"diverged: {', '.join(self.diverged)}")
        if self.failed:
            parts.append(f"{self.failed} initial states escaped (not drawn)")
        return "; ".join(parts)


@dataclass(frozen=True)
class SeriesInfo:
    """What a plot against time drew: one panel per state (or one of errors), a line per
    method, the methods that diverged, and what the errors are measured against ('exact',
    'reference', or None for a plot of the states)."""

    panels: tuple[str, ...]
    methods: tuple[str, ...]
    lines: int
    diverged: tuple[str, ...] = ()
    against: str | None = None


@dataclass(frozen=True)
class ConvergenceInfo:
    """The fitted slope of log error against log h per method, the expected orders, and what
    the error is measured against."""

    slopes: dict[str, float | None]
    expected: dict[str, int]
    against: str


@dataclass(frozen=True)
class StabilityInfo:
    """The methods whose regions were drawn, the step h, the eigenvalues h λ marked (one tuple
    per equilibrium, in the order of ``equilibria``) and, per method, whether each h λ lies in
    its region (where a linear error of that mode does not grow)."""

    methods: tuple[str, ...]
    h: float
    equilibria: tuple[Equilibrium, ...]
    h_lambda: tuple[tuple[complex, ...], ...]
    inside: dict[str, tuple[tuple[bool, ...], ...]]


@dataclass(frozen=True)
class GraphInfo:
    """The nodes of an unrolled graph, by label, in drawing order, and whether steps were
    elided (a long recurrence is drawn as its first and last steps with an ellipsis)."""

    steps: int
    nodes: tuple[str, ...]
    elided: bool
