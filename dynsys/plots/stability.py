"""Linear stability regions of the steppers, and the plot of them in the plane of z = h λ.

An explicit Runge-Kutta method with tableau (A, b) applied to the test equation s' = λ s gives
s(n+1) = R(z) s(n), z = h λ, with the stability function

    R(z) = 1 + z b^T (I - z A)^{-1} 1,

a polynomial for an explicit method (A strictly lower triangular):
R(z) = 1 + sum_k z^(k+1) b^T A^k 1.  The region is {z : |R(z)| <= 1}: Euler's is the disc
|1 + z| <= 1, RK4's reaches the imaginary axis up to |Im z| = 2.83.

Semi-implicit Euler is not defined on a scalar equation: it splits the state into a position
and a velocity.  Its region here is that of the linear oscillator q' = p, p' = -ω² q - γ p,
whose eigenvalues are λ, conj(λ) (ω² = |λ|², γ = -2 Re λ).  One step multiplies (q, p) by

    M(z) = [[1 - |z|², h (1 + 2 Re z)], [-|z|²/h, 1 + 2 Re z]],   z = h λ,

whose eigenvalues μ solve μ² - (2 + 2 Re z - |z|²) μ + (1 + 2 Re z) = 0 (h drops out), and
"|R(z)|" is the spectral radius max |μ|.  On the imaginary axis det M = 1 and the method is
stable, neither growing nor decaying, for |z| <= 2: it keeps the undamped oscillator's orbit
where explicit Euler, whose disc touches the imaginary axis only at 0, spirals out for every h.

An implicit tableau (a row of A may hold its diagonal entry, or more) has the same R(z), a
rational function: backward Euler's is 1 / (1 - z), the trapezoidal rule's and the implicit
midpoint rule's (1 + z/2) / (1 - z/2).  A linear multistep method
sum_j alpha_j s(n+1-k+j) = h sum_j beta_j g(s(n+1-k+j)), j = 0..k, gives s(n) = ζ^n for the
roots ζ of sum_j (alpha_j - z beta_j) ζ^j = 0, and "|R(z)|" is the largest root modulus.

A method is A-stable when its region holds the whole left half plane Re z <= 0, so that no
step h makes a decaying linear mode grow: backward Euler, the trapezoidal and implicit
midpoint rules and BDF2 are; no explicit method is.  It is L-stable when, moreover,
|R(z)| -> 0 as z -> -infinity, so that very stiff modes are damped in one step rather than
kept with |R| near 1: backward Euler and BDF2 are, the trapezoidal rule (R -> -1) is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .. import checks as core_checks
from ..errors import InputError, unknown_name
from ..steppers import STEPPERS
from ..study import DEFAULT_METHODS
from ..systems.base import System
from . import checks, marks
from .equilibria import find_equilibria
from .orbits import box, check_reference, reference_orbits
from .results import StabilityInfo
from .style import GREY, house_style, method_colour, one_axes, system_title

SPLIT = "semi_implicit_euler"
TOLERANCE = 1e-12
"""|R(z)| <= 1 + TOLERANCE counts as inside: the boundary belongs to the region."""


def stability_polynomial(a: Sequence[Sequence[float]], b: Sequence[float]) -> np.ndarray:
    """Coefficients c_0, c_1, ... (ascending powers) of R(z) for an explicit tableau (a, b).

    >>> stability_polynomial(((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)), (1/6, 1/3, 1/3, 1/6))
    array([1.        , 1.        , 0.5       , 0.16666667, 0.04166667])
    """
    matrix = _square(a, len(b))
    if np.any(np.triu(matrix) != 0):
        raise InputError("stability_polynomial needs an explicit tableau (a strictly lower)")
    weights = np.asarray(b, dtype=np.float64)
    coefficients = [1.0]
    power = np.ones(len(weights))  # A^k 1
    for _ in range(len(weights)):
        coefficients.append(float(weights @ power))
        power = matrix @ power
    return np.array(coefficients)


def stability_function(a: Sequence[Sequence[float]], b: Sequence[float], z: Any) -> np.ndarray:
    """R(z) = 1 + z b^T (I - z A)^{-1} 1 for any tableau, on an array of complex z; at a pole
    (I - z A singular, e.g. z = 1 for backward Euler) R is infinite."""
    z = np.asarray(z, dtype=np.complex128)
    matrix = _square(a, len(b))
    if not np.any(np.triu(matrix)):
        return np.polynomial.polynomial.polyval(z, stability_polynomial(a, b))
    s = len(b)
    system = np.eye(s) - z[..., None, None] * matrix
    regular = np.linalg.det(system) != 0
    out = np.full(z.shape, complex(np.inf, 0.0))
    solved = np.linalg.solve(system[regular], np.ones((int(regular.sum()), s, 1)))[..., 0]
    out[regular] = 1 + z[regular] * (solved @ np.asarray(b, dtype=np.float64))
    return out


def multistep_radius(alpha: Sequence[float], beta: Any, z: Any) -> np.ndarray:
    """The largest |ζ| over the roots of sum_j (alpha_j - z beta_j) ζ^j = 0 (j = 0..k).

    ``alpha`` are the coefficients of s(n+1-k), ..., s(n+1); ``beta`` is one number, the
    coefficient of h g(s(n+1)) (an implicit method such as BDF: beta_j = 0 for j < k), or
    the k + 1 coefficients of h g(s(n+1-k)), ..., h g(s(n+1)).  Where the leading coefficient
    alpha_k - z beta_k vanishes a root is at infinity and the radius is infinite.
    """
    z = np.asarray(z, dtype=np.complex128)
    alpha = np.asarray(alpha, dtype=np.float64)
    k = len(alpha) - 1
    betas = np.asarray(beta, dtype=np.float64)
    if betas.ndim == 0:
        betas = np.concatenate([np.zeros(k), betas[None]])
    if k < 1 or betas.shape != alpha.shape:
        raise InputError("a multistep method needs k + 1 >= 2 alpha and 1 or k + 1 beta")
    coefficients = alpha - z[..., None] * betas  # ascending powers of ζ
    lead = coefficients[..., -1]
    finite = lead != 0
    out = np.full(z.shape, np.inf)
    monic = coefficients[finite][..., :-1] / lead[finite][..., None]
    companion = np.zeros((len(monic), k, k), dtype=np.complex128)
    companion[:, 1:, :-1] = np.eye(k - 1)
    companion[:, :, -1] = -monic
    out[finite] = np.max(np.abs(np.linalg.eigvals(companion)), axis=-1)
    return out


def amplification(method: Any, z: Any) -> np.ndarray:
    """|R(z)| of ``method`` (a stepper's name, or a stepper) on complex z.

    What is computed follows the stepper's attributes: ``alpha`` and ``beta``, a multistep
    method (the largest root modulus, :func:`multistep_radius`); ``a`` and ``b``, a Butcher
    tableau (:func:`stability_function`); semi-implicit Euler, the spectral radius of its
    step matrix on the oscillator (see the module docstring).
    """
    z = np.asarray(z, dtype=np.complex128)
    stepper = _stability_stepper(method)
    with np.errstate(all="ignore"):
        if stepper is None:
            return _split_radius(z)
        if hasattr(stepper, "alpha") and hasattr(stepper, "beta"):
            return multistep_radius(stepper.alpha, stepper.beta, z)
        return np.abs(stability_function(stepper.a, stepper.b, z))


def in_region(method: str, z: Any) -> np.ndarray:
    """Whether each z = h λ lies in the stability region of ``method`` (boundary included).

    >>> bool(in_region("euler", -1.0)), bool(in_region("euler", 0.5j)), bool(in_region("rk4", 2.5j))
    (True, False, True)
    """
    return amplification(method, z) <= 1 + TOLERANCE


def stability_methods() -> tuple[str, ...]:
    """The steppers with a stability region: the tableau methods, the multistep methods and
    semi-implicit Euler."""
    return tuple(n for n, s in STEPPERS.items() if n == SPLIT or _has_region(s))


def _has_region(stepper: Any) -> bool:
    return (hasattr(stepper, "alpha") and hasattr(stepper, "beta")) or (
        hasattr(stepper, "a") and hasattr(stepper, "b")
    )


def stability_plot(
    system: System,
    s0: Any = None,
    *,
    dt: float = 0.1,
    methods: Sequence[str] | str = DEFAULT_METHODS,
    t_span: tuple[float, float] = (0.0, 20.0),
    xlim: Any = None,
    ylim: Any = None,
    ax: Any = None,
) -> tuple[Figure, StabilityInfo]:
    """The stability region of each method in the z = h λ plane, with the system's h λ marked.

    λ are the eigenvalues of the Jacobian at each equilibrium (drive off) inside the box of
    the reference trajectory from ``s0`` over ``t_span``; h = ``dt``.  A ray from 0 through
    each h λ shows where it moves as h grows.  ``ax``: draw into the caller's Axes and return
    its figure.
    """
    names, h, start, xlim, ylim = check_stability(
        system, s0, dt=dt, methods=methods, t_span=t_span, xlim=xlim, ylim=ylim, ax=ax
    )
    equilibria = _equilibria(system, start, t_span)
    h_lambda = tuple(tuple(complex(h * lam) for lam in eq.eigenvalues) for eq in equilibria)
    _check_h(h, equilibria, h_lambda)
    points = np.array([z for zs in h_lambda for z in zs], dtype=np.complex128)
    regions = region_box(names)
    xlim = xlim or _span(points.real, (min(-4.5, regions[0]), max(1.5, regions[1])))
    ylim = ylim or _span(points.imag, (min(-3.5, regions[2]), max(3.5, regions[3])), True)
    inside = {
        m: tuple(tuple(bool(v) for v in in_region(m, np.array(zs))) for zs in h_lambda)
        for m in names
    }
    with house_style():
        fig, panel = one_axes(ax, 7.0, 6.4)
        own = fig if ax is None else None
        ax = panel
        handles = _regions(ax, names, xlim, ylim)
        handles += _points(ax, equilibria, h_lambda)
        ax.axhline(0, color=GREY, lw=0.6, zorder=0)
        ax.axvline(0, color=GREY, lw=0.6, zorder=0)
        ax.set(xlim=xlim, ylim=ylim, xlabel="Re z", ylabel="Im z", aspect="equal")
        ax.set_title(system_title(system, f"stability regions |R(z)| ≤ 1, z = h λ, h = {h:g}"))
        marks.legend(ax, handles, own=own, ncols=3)
    return fig, StabilityInfo(names, h, equilibria, h_lambda, inside)


def check_stability(
    system: System,
    s0: Any = None,
    *,
    dt: float = 0.1,
    methods: Sequence[str] | str = DEFAULT_METHODS,
    t_span: tuple[float, float] = (0.0, 20.0),
    xlim: Any = None,
    ylim: Any = None,
    ax: Any = None,
):
    """The arguments of :func:`stability_plot` checked, and the work of its reference, without
    computing it (h λ, known once the equilibria are found, is checked when drawing); returns
    the methods, h, the initial state and the limits."""
    marks.given_axes(ax, None, 1, "a stability plot")
    checks.scalar_params(system)
    checks.ode(system, "a stability plot")
    names = checks.method_names(methods)
    allowed = stability_methods()
    for name in names:
        if name not in allowed:
            raise unknown_name("method with a stability region", name, allowed)
    if not names:
        raise InputError(f"methods must name at least one of: {', '.join(allowed)}")
    h = core_checks.positive_number("dt", dt)
    xlim, ylim = checks.limits("xlim", xlim, MAX_Z), checks.limits("ylim", ylim, MAX_Z)
    start = checks.one_initial_state(system, s0, "a stability plot")
    t_span = core_checks.time_span(t_span)
    if system.jacobian is not None or system.n_states <= 3:
        check_reference(system, start[None], t_span, f"a stability plot of {system.name}")
    return names, h, start, xlim, ylim


MAX_Z = 100.0
"""The plane of z = h λ drawn reaches |Re z|, |Im z| <= MAX_Z: the regions of the steppers lie
within |z| < 5, and beyond a few hundred they would be specks."""


def _check_h(h, equilibria, h_lambda) -> None:
    """Refuse a step h that puts some h λ beyond :data:`MAX_Z` (off any useful picture)."""
    far = [
        (max(abs(z.real), abs(z.imag)), eq)
        for eq, zs in zip(equilibria, h_lambda, strict=True)
        for z in zs
    ]
    if not far:
        return
    size, eq = max(far, key=lambda item: item[0])
    if size <= MAX_Z:
        return
    where = ", ".join(f"{v:.3g}" for v in eq.point)
    largest = max(max(abs(lam.real), abs(lam.imag)) for lam in eq.eigenvalues)
    raise InputError(
        f"dt={h:g} puts h λ of the equilibrium ({where}) at {size:.3g} from the origin, beyond "
        f"the {MAX_Z:g} a stability plot draws around the regions (|z| < 5); "
        f"take dt <= {MAX_Z / largest:.3g}"
    )


def region_box(methods: Sequence[str]) -> tuple[float, float, float, float]:
    """(re_min, re_max, im_min, im_max) of the boundaries of the regions of ``methods`` within
    |Re z|, |Im z| <= 6, padded: every explicit region lies inside |z| < 6, and so does the
    boundary of an implicit method's unbounded region (backward Euler's circle |z - 1| = 1;
    for the trapezoidal rule, the imaginary axis across the whole window)."""
    x = np.linspace(-6.0, 6.0, 481)
    z = x[None, :] + 1j * x[:, None]
    lo_re = lo_im = np.inf
    hi_re = hi_im = -np.inf
    for name in methods:
        inside = _boundary(amplification(name, z) <= 1 + TOLERANCE)
        if inside.any():
            rows, cols = np.nonzero(inside)
            lo_re, hi_re = min(lo_re, x[cols].min()), max(hi_re, x[cols].max())
            lo_im, hi_im = min(lo_im, x[rows].min()), max(hi_im, x[rows].max())
    if not np.isfinite(lo_re):
        return (0.0, 0.0, 0.0, 0.0)
    pad = 0.35
    return (lo_re - pad, hi_re + pad, lo_im - pad, hi_im + pad)


EQUILIBRIUM_TIMES = 2001
"""Times of the reference trajectory whose box is searched for equilibria."""


def _equilibria(system, start, t_span):
    if system.jacobian is None and system.n_states > 3:
        return ()
    t0, t_end = core_checks.time_span(t_span)
    t = np.linspace(t0, t_end, EQUILIBRIUM_TIMES)
    orbit = reference_orbits(system, start[None], t)
    bounds = box(orbit.states if len(orbit.states) else start[None, None], pad=0.25)
    return find_equilibria(system, bounds)[:4]


def _boundary(inside: np.ndarray) -> np.ndarray:
    """The cells of ``inside`` with a neighbour (left, right, up or down) outside; the edge of
    the grid is no boundary."""
    out = np.zeros_like(inside)
    out[1:] |= ~inside[:-1]
    out[:-1] |= ~inside[1:]
    out[:, 1:] |= ~inside[:, :-1]
    out[:, :-1] |= ~inside[:, 1:]
    return inside & out


def _span(values: np.ndarray, default: tuple[float, float], symmetric: bool = False):
    """The default window, widened to show every value (with a margin)."""
    values = values[np.isfinite(values)]
    lo, hi = default
    if values.size:
        lo, hi = min(lo, values.min() * 1.15 - 0.3), max(hi, values.max() * 1.15 + 0.3)
    if symmetric:
        hi = max(abs(lo), abs(hi))
        lo = -hi
    return float(lo), float(hi)


def same_region(names: Sequence[str]) -> dict[str, str]:
    """{method: the earlier method of ``names`` with the same region}: midpoint and Heun, both
    R(z) = 1 + z + z²/2, share theirs, and so do the trapezoidal and implicit midpoint rules.
    Two methods have the same region here when |R| agrees to 1e-12 at :data:`SAMPLE_Z`."""
    radii: dict[str, np.ndarray] = {}
    same = {}
    for name in names:
        if name == SPLIT:
            continue
        radius = amplification(name, SAMPLE_Z)
        for other, known in radii.items():
            if np.allclose(radius, known, rtol=1e-12, atol=1e-14):
                same[name] = other
                break
        else:
            radii[name] = radius
    return same


SAMPLE_Z = np.array([
    -2.7 + 0.3j, -1.3 - 1.1j, -0.4 + 2.2j, 0.35 + 0.8j, 0.9 - 1.7j, -3.8 - 0.05j, 1.6 + 2.9j,
    -0.05 - 0.6j, 2.3 - 0.4j, -1.9 + 3.3j, 0.2 - 3.1j, -5.1 + 1.2j,
])  # fmt: skip
"""Points of the plane at which :func:`same_region` compares |R(z)|: spread over |z| < 6,
none on an axis or at a pole of the methods' R."""


DASHES = (0, (4.0, 4.0))
"""The outline of a region already drawn for another method: dashes over its solid line."""


def _regions(ax, names, xlim, ylim) -> list:
    """Each region filled faintly and outlined in the method's colour; a region equal to one
    already drawn gets a dashed outline over the first (both colours stay visible)."""
    x = np.linspace(*xlim, 401)
    y = np.linspace(*ylim, 401)
    z = x[None, :] + 1j * y[:, None]
    handles = []
    same = same_region(names)
    for name in names:
        colour = method_colour(name)
        radius = amplification(name, z)
        radius = np.where(np.isfinite(radius), radius, 1e300)
        if not radius.min() <= 1 <= radius.max():
            continue
        if name in same:
            ax.contour(
                x,
                y,
                radius,
                levels=[1],
                colors=[colour],
                linewidths=1.6,
                linestyles=[DASHES],
                zorder=3,
            )
            label = f"{name} (same region as {same[name]})"
            handles.append(marks.line_handle(colour, label, lw=1.6, ls=(0, (2.0, 2.0))))
            continue
        ax.contourf(x, y, radius, levels=[0, 1], colors=[colour], alpha=0.12, zorder=1)
        ax.contour(x, y, radius, levels=[1], colors=[colour], linewidths=1.6, zorder=2)
        label = name if name != SPLIT else f"{name} (oscillator, see docs)"
        handles.append(marks.line_handle(colour, label, lw=6, alpha=0.5))
        if name == SPLIT:  # the stable segment of the imaginary axis, a set of zero area
            top = min(2.0, ylim[1])
            ax.plot([0, 0], [-top, top], color=colour, lw=3.5, solid_capstyle="butt", zorder=2)
    return handles


MARKER_SHAPES = ("o", "s", "D", "^")


def _points(ax, equilibria, h_lambda) -> list:
    """Each equilibrium's h λ as open markers (one shape per equilibrium), with rays from 0."""
    handles = []
    for k, (eq, zs) in enumerate(zip(equilibria, h_lambda, strict=True)):
        shape = MARKER_SHAPES[k % len(MARKER_SHAPES)]
        where = ", ".join(f"{v:.3g}" for v in eq.point)
        label = f"h λ at ({where}), {eq.kind}"
        for z in zs:
            if z != 0:
                far = 10 * MAX_Z * z / abs(z)  # beyond any window drawn
                ax.plot([0, far.real], [0, far.imag], color="black", lw=0.6, ls=":", zorder=3)
        ax.plot(
            [z.real for z in zs],
            [z.imag for z in zs],
            shape,
            color="black",
            ms=6.5,
            mfc="white",
            mew=1.5,
            ls="none",
            zorder=5,
            label=label,
        )
        handles.append(ax.lines[-1])
    return handles


def _stability_stepper(method: Any):
    """The stepper ``method`` names (or ``method`` itself, an object with a tableau or with
    multistep coefficients); None for semi-implicit Euler."""
    if not isinstance(method, str):
        if not _has_region(method):
            raise InputError(f"{method!r} has neither a tableau (a, b) nor alpha and beta")
        return method
    if method == SPLIT:
        return None
    if method not in STEPPERS:
        raise unknown_name("method", method, stability_methods())
    stepper = STEPPERS[method]
    if not _has_region(stepper):
        known = ", ".join(stability_methods())
        raise InputError(f"{method} has no stability function; methods with one: {known}")
    return stepper


def _square(a: Sequence[Sequence[float]], s: int) -> np.ndarray:
    """A ragged tableau as an s x s matrix: row i holds a_i0, a_i1, ... and the entries not
    given are 0, so an explicit row has i entries, a diagonally implicit one i + 1 (the
    diagonal a_ii included) and a fully implicit one s."""
    if len(a) > s:
        raise InputError(f"a tableau with {s} weights b has at most {s} rows, got {len(a)}")
    matrix = np.zeros((s, s))
    for i, row in enumerate(a):
        if len(row) > s:
            raise InputError(f"row {i} of a tableau with {s} stages has {len(row)} entries")
        matrix[i, : len(row)] = row
    return matrix


def _split_radius(z: np.ndarray) -> np.ndarray:
    """Spectral radius of semi-implicit Euler's step matrix M(z) (see the module doc)."""
    trace = 2 + 2 * z.real - np.abs(z) ** 2
    det = 1 + 2 * z.real
    root = np.sqrt((trace**2 - 4 * det).astype(np.complex128))
    return np.maximum(np.abs((trace + root) / 2), np.abs((trace - root) / 2))
