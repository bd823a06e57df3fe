"""What a system is: ds/dt = g(t, s, x; θ), or a map s(n+1) = f(n, s(n); θ).

A system is a class whose methods are pure functions of their arguments: the state ``s`` with
shape ``(..., n)``, the drive sample ``x`` with shape ``(...)`` (None for an undriven system),
and the parameters ``p``, a :class:`Params` mapping of float64 arrays that broadcast against the
batch ``...``.  An instance binds parameter values (validated, with defaults); it holds no other
state.

The vector field is written once, component by component, as a static method
``vector_field(t, s, x, p) -> tuple`` whose ``s`` unpacks into the states (``pos, vel = s``) and
whose ``p`` is read by attribute (``p.k``).  Plain arithmetic and numpy's ufuncs make it work on
whole batches of numpy arrays and, compiled, on single numbers (see :mod:`dynsys.kernels`).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, Literal

import numpy as np

from ..errors import InputError, unknown_name

Domain = Literal["real", "positive", "nonnegative"]
Ranges = Mapping[str, tuple[float, float]]
"""Uniform ranges (low, high) by name."""


class Params(dict[str, np.ndarray]):
    """Parameter values by name, readable as items or attributes: ``p["k"]`` or ``p.k``.

    Attribute access lets a system's ``vector_field`` and ``forcing`` read like the equations
    and run unchanged on a compiled backend, where ``p`` is a named tuple of numbers.
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True)
class Parameter:
    """A named parameter with its default, a one-line description and its domain."""

    name: str
    default: float
    description: str
    domain: Domain = "real"

    def validate(self, value: Any, system: str) -> np.ndarray:
        """Return ``value`` as a float64 array (0-d or 1-d), or raise a one-line InputError."""
        field = f"parameter {self.name!r} of {system}"
        if np.asarray(value).dtype == np.bool_:
            raise InputError(f"{field} must be a number, got {value!r}")
        try:
            arr = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"{field} must be a number, got {value!r}") from None
        if arr.ndim > 1:
            raise InputError(f"{field} must be a number or a 1-d array (one per batch member)")
        if arr.ndim == 1 and arr.size == 0:
            raise InputError(f"{field} must not be an empty array (one value per batch member)")
        if not np.all(np.isfinite(arr)):
            raise InputError(f"{field} must be a finite number, got {value!r}")
        if self.domain == "positive" and not np.all(arr > 0):
            raise InputError(f"{field} must be > 0, got {value!r}")
        if self.domain == "nonnegative" and not np.all(arr >= 0):
            raise InputError(f"{field} must be >= 0, got {value!r}")
        arr.setflags(write=False)
        return arr


class System:
    """Base class of continuous systems ds/dt = g(t, s, x; θ) with an optional drive x(t).

    Subclasses set the class attributes and implement the static method ``vector_field`` (or,
    numpy only, :meth:`rhs` itself); they may also provide a static ``forcing(t, p)`` (the drive
    x(t); its presence makes the system driven), ``exact(t, s0, t0, p)``, ``jacobian(t, s, p)``
    and ``energy(s, p)``.  The class docstring holds the equations in a literal block introduced
    by ``Equations::``, and one line on where its typical initial states lie (``typical_s0``
    and ``transient``, the data that datasets draw from).
    """

    name: ClassVar[str]
    states: ClassVar[tuple[str, ...]]
    parameters: ClassVar[tuple[Parameter, ...]]
    default_s0: ClassVar[tuple[float, ...]]
    """An initial state that shows the system's typical behaviour."""
    typical_s0: ClassVar[Ranges] = MappingProxyType({})
    """Where typical initial states lie, at the default parameters: a uniform range
    (low, high) per state name; a state not listed has (-1, 1).  Datasets draw s0 from these
    unless told otherwise (:meth:`typical_s0_ranges` fills in the default)."""
    transient: ClassVar[float] = 0.0
    """Time (>= 0) to run each drawn state before t = 0, so that data starts on the attractor."""
    angles: ClassVar[tuple[str, ...]] = ()
    """States that are angles (the vector field is 2 pi periodic in them): a model is given
    each as (cos, sin), so a rotation never leaves the range it was trained on."""
    kind: ClassVar[Literal["ode", "map"]] = "ode"
    split: ClassVar[int | None] = None
    """Number of leading "position" states; semi-implicit Euler updates the rest first."""
    stiff: ClassVar[bool] = False
    """Whether explicit steppers need steps far below the solution's own time scale (the test
    systems for implicit methods)."""
    affine: ClassVar[bool] = False
    """Whether g is affine in the state, g = M(t) s + c(t, x): then every stepper's step map is
    s(n+1) = A_n s(n) + b_n, and ``simulate(..., backend="scan")`` solves it by an associative
    scan (which checks the claim on every step; other systems are checked the same way)."""

    forcing: Any = None
    exact: Any = None
    jacobian: Any = None
    """dg/ds at (t, s): ``jacobian(t, s, p) -> (..., n, n)``; made from :attr:`jacobian_field`
    when a class defines that instead."""
    jacobian_field: Any = None
    """dg/ds by entries: a static method ``(t, s, p) -> tuple`` of rows, each a tuple of n
    entries (numbers or arrays), written like ``vector_field``; a compiled loop reads it."""
    energy: Any = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "jacobian_field" in cls.__dict__ and "jacobian" not in cls.__dict__:
            cls.jacobian = _jacobian_from_field

    def __init__(self, /, **params: Any):
        spec = {p.name: p for p in self.parameters}
        for key in params:
            if key not in spec:
                raise unknown_name(f"parameter of {self.name}", key, spec)
        self.params = Params(
            {name: p.validate(params.get(name, p.default), self.name) for name, p in spec.items()}
        )
        sizes = {v.shape[0] for v in self.params.values() if v.ndim == 1}
        if len(sizes) > 1:
            raise InputError(
                f"array parameters of {self.name} must have one length, got {sorted(sizes)}"
            )

    # -- the maths -------------------------------------------------------------------------
    vector_field: Any = None
    """g(t, s, x; θ) by components: a static method ``(t, s, x, p) -> tuple`` of n components."""

    def rhs(self, t: float, s: np.ndarray, x: np.ndarray | None, p: Params) -> np.ndarray:
        """The vector field g(t, s, x; θ), shape (..., n): ``vector_field`` stacked."""
        if self.vector_field is None:
            raise NotImplementedError(f"{type(self).__name__} defines neither vector_field nor rhs")
        components = tuple([s[..., i] for i in range(s.shape[-1])])  # arrays, even when 0-d
        parts = self.vector_field(t, components, x, as_params(p))
        shapes = [np.shape(part) for part in parts]
        same = all(shape == shapes[0] for shape in shapes)  # the usual case, 1 µs sooner
        shape = shapes[0] if same else np.broadcast_shapes(*shapes)
        out = np.empty((*shape, len(parts)))
        for i, part in enumerate(parts):
            out[..., i] = part
        return out

    def rhs_into(
        self,
        t: float,
        s: np.ndarray,
        x: np.ndarray | None,
        p: Params,
        out: np.ndarray,
        columns: Mapping[int, tuple[np.ndarray, ...]] | None = None,
    ) -> np.ndarray:
        """g(t, s, x; θ) written into ``out`` (the shape of ``s``, (..., n)) and returned.

        The same numbers as :meth:`rhs`, bit for bit, without its allocations: component i of
        ``vector_field`` is copied into ``out[..., i]``.  ``p`` must be a :class:`Params`.
        ``columns`` maps ``id(a)`` to the views ``a[..., i]`` of arrays the caller keeps (a
        stepper's workspace), which then are not sliced again.  A system that defines
        :meth:`rhs` itself has its ``rhs`` copied into ``out``.
        """
        field = self.vector_field
        if field is None or type(self).rhs is not System.rhs:
            out[...] = self.rhs(t, s, x, p)
            return out
        known = {} if columns is None else columns
        parts = known.get(id(s)) or tuple([s[..., i] for i in range(s.shape[-1])])
        into = known.get(id(out)) or tuple([out[..., i] for i in range(out.shape[-1])])
        for column, part in zip(into, field(t, parts, x, p), strict=True):
            column[...] = part
        return out

    # -- derived facts ---------------------------------------------------------------------
    @property
    def n_states(self) -> int:
        return len(self.states)

    @property
    def driven(self) -> bool:
        return self.forcing is not None

    @property
    def n_positions(self) -> int:
        """States [0, n_positions) are positions q, the rest velocities p (for symplectic steps)."""
        return self.n_states // 2 if self.split is None else self.split

    @property
    def batch_size(self) -> int | None:
        """Length of the array parameters, or None when every parameter is a scalar."""
        sizes = [v.shape[0] for v in self.params.values() if v.ndim == 1]
        return sizes[0] if sizes else None

    @classmethod
    def typical_s0_ranges(cls) -> dict[str, tuple[float, float]]:
        """{state: (low, high)} for every state, in order: ``typical_s0``, else (-1, 1)."""
        ranges = {s: cls.typical_s0.get(s, (-1.0, 1.0)) for s in cls.states}
        return {s: (float(lo), float(hi)) for s, (lo, hi) in ranges.items()}

    @classmethod
    def summary(cls) -> str:
        """First line of the docstring."""
        return inspect.cleandoc(cls.__doc__ or "").splitlines()[0]

    @classmethod
    def equations(cls) -> list[str]:
        """The lines of the ``Equations::`` literal block of the class docstring."""
        lines = inspect.cleandoc(cls.__doc__ or "").splitlines()
        try:
            start = lines.index("Equations::") + 1
        except ValueError:
            return []
        block: list[str] = []
        for line in lines[start:]:
            if line and not line.startswith(" "):
                break
            block.append(line.strip())
        return [line for line in block if line]

    def with_params(self, /, **params: Any) -> System:
        """A copy with some parameter values replaced."""
        merged = {name: v for name, v in self.params.items()} | params
        return type(self)(**merged)

    def param_values(self) -> dict[str, float | list[float]]:
        """The bound parameter values as plain Python numbers (for JSON and printing)."""
        return {k: v.tolist() for k, v in self.params.items()}

    def describe(self) -> dict[str, Any]:
        """Everything a user wants to know about the system, JSON-ready."""
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "summary": self.summary(),
            "states": list(self.states),
            "default_s0": list(self.default_s0),
            "parameters": [
                {
                    "name": p.name,
                    "default": p.default,
                    "domain": p.domain,
                    "description": p.description,
                }
                for p in self.parameters
            ],
            "equations": self.equations(),
            "driven": self.driven,
            "exact": self.exact is not None,
            "jacobian": self.jacobian is not None,
            "energy": self.energy is not None,
            "affine": self.affine,
        }
        if self.kind == "ode":
            out["typical_s0"] = {k: list(v) for k, v in self.typical_s0_ranges().items()}
            out["transient"] = self.transient
        return out

    def __repr__(self) -> str:
        values = ", ".join(f"{k}={_short(v)}" for k, v in self.params.items())
        return f"{type(self).__name__}({values})"


class DiscreteMap(System):
    """Base class of maps s(n+1) = f(n, s(n); θ), which are recurrences already."""

    kind: ClassVar[Literal["ode", "map"]] = "map"

    def next(self, n: float, s: np.ndarray, p: Params) -> np.ndarray:
        """The map f(n, s; θ), shape (..., n)."""
        raise NotImplementedError


def as_params(p: dict[str, np.ndarray]) -> Params:
    """``p`` as a :class:`Params` (attribute access), without copying one that already is."""
    return p if isinstance(p, Params) else Params(p)


def jacobian_matrix(rows: list[list], s: np.ndarray, p: Params) -> np.ndarray:
    """Stack rows of entries (numbers or arrays that broadcast against the batch of ``s`` and
    ``p``) into a Jacobian of shape (..., n, n)."""
    batch = np.broadcast_shapes(s.shape[:-1], *(v.shape for v in p.values()))
    out = np.empty((*batch, len(rows), len(rows)))
    for i, row in enumerate(rows):
        for j, entry in enumerate(row):
            out[..., i, j] = entry  # broadcast over the batch
    return out


def _jacobian_from_field(self: System, t, s: np.ndarray, p: Params) -> np.ndarray:
    """dg/ds as a (..., n, n) array from the rows of ``jacobian_field``."""
    components = tuple(s[..., i] for i in range(s.shape[-1]))
    rows = self.jacobian_field(t, components, as_params(p))
    return jacobian_matrix([list(row) for row in rows], s, p)


def _short(v: np.ndarray) -> str:
    return f"{float(v):g}" if v.ndim == 0 else f"array(shape={v.shape})"
