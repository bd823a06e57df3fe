"""Compiled time loops: a stepper's recurrence as machine code, for batches of any size.

The numpy time loop (:meth:`dynsys.simulate.Recurrence.run`) steps the whole batch one numpy
call at a time.  The compiled loop runs the same recurrence member by member in machine code:
:mod:`~dynsys.kernels.source` generates it from the stepper's Butcher tableau (or the
semi-implicit split) and the system's ``vector_field`` and ``forcing`` static methods, which
numba compiles for single numbers with ``p`` a named tuple of parameters;
:mod:`~dynsys.kernels.native` turns it into object code, and :mod:`~dynsys.kernels.cache`
keeps that on disk, so a later process loads it in milliseconds without numba;
:mod:`~dynsys.kernels.parallel` runs it, large batches split over threads (:func:`threads`),
small ones in the calling thread.

What agrees, exactly: the arithmetic is done in the same order as the numpy loop, so every
operation (+, -, *, /, and the functions both take from the C library: cos, sin, exp, ...)
rounds the same way and the two loops give the same bits, on every step, for every stepper,
when the system's ``vector_field`` and ``forcing`` use no power ``a ** n`` other than n = 2
(:func:`bitwise` reads their source).  A power is the exception: numba evaluates ``a ** 3`` as
the products ``a * a * a``, numpy by its ``power`` function (vectorised, SVML on AVX-512), and
the two differ in the last bit for about a quarter of the arguments.  Then each step agrees to a
few units in the last place (a Duffing written with ``pos**3``: relative differences up to
1e-15 per step, 1.25e-13 after 5000 RK4 steps), and on a chaotic orbit the difference grows like
any other perturbation.  Writing the power as products (``pos * pos * pos``, as the built-in
Duffing does) makes both loops bitwise: every built-in system is.

numba is optional (``pip install 'dynsys[fast]'``); it is needed to compile a loop, not to load
a cached one.  :func:`available` says whether a loop can be had for a run.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import inspect
import textwrap
import threading
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError, KernelError
from ..steppers import Stepper
from ..systems.base import System
from . import cache, native
from .parallel import THREADS_ENV, run, split, threads
from .source import BLOCK, BODIES, advance_source, work_rows

__all__ = [
    "BLOCK",
    "THREADS_ENV",
    "Kernel",
    "KernelError",
    "available",
    "bitwise",
    "is_cached",
    "kernel",
    "run",
    "split",
    "supports",
    "threads",
]


@functools.cache
def numba_installed() -> bool:
    """Whether numba is installed (it compiles loops; cached loops load without it)."""
    return importlib.util.find_spec("numba") is not None


@functools.cache
def _llvmlite_installed() -> bool:
    """Whether llvmlite (numba's LLVM binding, which loads cached loops) is installed."""
    return importlib.util.find_spec("llvmlite") is not None


def available() -> bool:
    """Whether numba is installed, so that a loop can be compiled."""
    return numba_installed()


def supports(system: System, stepper: Stepper) -> bool:
    """Whether the compiled loop can run ``stepper`` on ``system``."""
    return why_not(system, stepper) is None


def why_not(system: System, stepper: Stepper) -> str | None:
    """Why the compiled loop cannot run ``stepper`` on ``system`` (one clause), or None."""
    cls = type(system)
    if system.kind != "ode":
        return f"{system.name} is a map"
    if cls.vector_field is None or cls.rhs is not System.rhs:  # rhs overridden: its own maths
        return f"{system.name} has no vector_field by components"
    if type(stepper) not in BODIES:
        return f"it has no loop for {stepper.name}"
    if (stepper.implicit or getattr(stepper, "tangent", False)) and cls.jacobian_field is None:
        return f"{stepper.name} needs a jacobian_field, which {system.name} does not define"
    return None


def compiled_methods() -> tuple[str, ...]:
    """The names of the steppers the compiled loop runs."""
    from ..steppers import STEPPERS

    return tuple(name for name, stepper in STEPPERS.items() if type(stepper) in BODIES)


@functools.cache
def bitwise(cls: type[System]) -> bool:
    """Whether the compiled loop gives the numpy loop's bits for systems of ``cls``: its
    ``vector_field`` and ``forcing`` raise nothing to a power other than 2 (see the module
    docstring); False when their source cannot be read."""
    for function in (cls.vector_field, cls.forcing):
        if function is None:
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
        except (OSError, TypeError, SyntaxError):
            return False
        for node in ast.walk(tree):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
                exponent = node.right
                if not (isinstance(exponent, ast.Constant) and exponent.value == 2):
                    return False
            if isinstance(node, ast.Attribute) and node.attr in ("power", "float_power"):
                return False
    return True


def shared_params(system: System) -> bool:
    """Whether every member shares the parameters (all of them scalars)."""
    return all(v.ndim == 0 for v in system.params.values())


@dataclass(frozen=True)
class Kernel:
    """A loaded loop: ``function`` follows :data:`dynsys.kernels.source.ARGUMENTS`."""

    function: Callable[..., int]
    work_rows: int
    shared: bool
    origin: str
    """How this process got it: "compiled" (now), "loaded" (from the disk cache), or "in
    memory" (by an earlier run of this process)."""
    path: Path | None
    """The cached file, or None when it lives in memory only."""


@dataclass(frozen=True)
class _Plan:
    """What a loop is made from: its generated source and the name of its cached file."""

    cls: type[System]
    stepper: Stepper
    shared: bool
    source: str
    work_rows: int
    folder: Path | None
    key: str | None


@functools.cache
def _plan(cls: type[System], stepper: Stepper, shared: bool) -> _Plan:
    names = [p.name for p in cls.parameters]
    positions = cls.split if cls.split is not None else len(cls.states) // 2
    driven = cls.forcing is not None
    width = stepper.width(len(cls.states))
    source = advance_source(stepper, width, names, driven, positions, shared)
    label = " ".join(f"{cls.__module__}.{cls.__qualname__}".split())  # no line break
    header = (  # no name, whatever its characters, can end the comment line
        f"# dynsys compiled loop: {stepper.name} on {label}, "
        f"{'shared' if shared else 'per-member'} parameters {tuple(names)!r}\n"
        "# globals: field = vector_field, drive = forcing, jac = jacobian_field, "
        "P = parameters, carray (numba), np (numpy)\n"
    )
    source = header + source
    rows = work_rows(width, driven, shared, stepper)
    where = cache.folder()
    return _Plan(cls, stepper, shared, source, rows, where, cache.key(source, cls))


_LOADED: dict[tuple[type[System], Stepper, bool], Kernel] = {}
_LOADING = threading.Lock()


def is_cached(system: System, stepper: Stepper) -> bool:
    """Whether this run's loop is already loaded in this process or cached on disk (so that
    running it costs no compiling); False when the loop cannot run it."""
    if not supports(system, stepper):
        return False
    shared = shared_params(system)
    if (type(system), stepper, shared) in _LOADED:
        return True
    if not _llvmlite_installed():
        return False
    plan = _plan(type(system), stepper, shared)
    return cache.exists(plan.folder, plan.key)


def kernel(system: System, stepper: Stepper) -> Kernel:
    """The loop of ``stepper`` on systems like ``system`` (its class, and whether its members
    share parameters): loaded from this process, from the disk cache, or compiled."""
    reason = why_not(system, stepper)
    if reason is not None:
        raise InputError(
            f"backend 'numba' cannot run {stepper.name} on {system.name}: {reason} (it compiles "
            f"{', '.join(compiled_methods())} on systems with a vector_field)"
        )
    index = (type(system), stepper, shared_params(system))
    with _LOADING:
        done = _LOADED.get(index)
        if done is not None:
            return Kernel(done.function, done.work_rows, done.shared, "in memory", done.path)
        loaded = _load_or_compile(_plan(*index))
        _LOADED[index] = loaded
        return loaded


def _load_or_compile(plan: _Plan) -> Kernel:
    where, name = plan.folder, plan.key
    found = _from_disk(plan)
    if found is not None:
        return found
    if not available():
        raise InputError("backend 'numba' needs numba: pip install 'dynsys[fast]' (or numba)")
    with cache.compiling(where, name):
        found = _from_disk(plan)  # compiled by another process while this one waited
        if found is not None:
            return found
        entry = name or f"m{id(plan):x}"
        objects = _compile(plan, entry)
        target = native.host()
        header = {
            "entry": entry,
            "cpu": target.cpu,
            "features": target.features,
            "system": f"{plan.cls.__module__}.{plan.cls.__qualname__}",
            "stepper": plan.stepper.name,
            "shared": plan.shared,
        }
        stored = where is not None and name is not None
        stored = stored and cache.write(where, name, header, objects, plan.source)
    try:
        function = native.load(objects, entry)
    except native.NativeError as err:
        raise KernelError(f"{err}; use backend='numpy'") from None
    path = cache.path_of(where, name) if stored else None
    return Kernel(function, plan.work_rows, plan.shared, "compiled", path)


def _from_disk(plan: _Plan) -> Kernel | None:
    """The cached loop when it exists and was made for this CPU."""
    if plan.folder is None or plan.key is None:
        return None
    entry = cache.read(plan.folder, plan.key)
    if entry is None:
        return None
    target = native.host()
    header = entry.header
    if (header.get("cpu"), header.get("features"), header.get("entry")) != (
        target.cpu,
        target.features,
        plan.key,
    ):
        return None
    try:
        function = native.load(entry.objects, plan.key)
    except native.NativeError:
        return None
    return Kernel(
        function, plan.work_rows, plan.shared, "loaded", cache.path_of(plan.folder, plan.key)
    )


def _compile(plan: _Plan, entry: str) -> bytes:
    from numba import carray

    cls = plan.cls
    names = [p.name for p in cls.parameters]
    where, name = plan.folder, plan.key
    filename = str(where / f"{name}.py") if where is not None and name else "<dynsys kernel>"
    scope = {
        "carray": carray,
        "P": namedtuple(f"{cls.__name__}Params", names),
        "field": cls.vector_field,
        "drive": cls.forcing,
        "jac": cls.jacobian_field,
        "np": np,
    }
    # Safe: the source is dynsys's own template filled with the registry's numbers (tableau
    # and splitting coefficients, Newton's constants: repr of floats), indices and fixed
    # identifiers; the stepper's name (the registry's, or "<name> with m tangent vectors"),
    # the class and the parameter names appear
    # only in its first comment line (the class's without line breaks, the parameters' as
    # repr() strings), and the parameter names reach the code as namedtuple fields (which
    # must be identifiers).  It is executed from memory, never read back from the cache
    # folder, and user-defined (YAML) systems are never compiled: supports() refuses them.
    exec(compile(plan.source, filename, "exec"), scope)
    try:
        return native.compile_object(scope["advance"], scope, entry)
    except Exception as err:  # numba's typing errors are many classes: report the reason
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        reasons = [line for line in lines if not line.startswith("Failed in")]
        first = (reasons or lines or [type(err).__name__])[0].rstrip(":")
        raise KernelError(
            f"cannot compile {plan.stepper.name} on {cls.__name__}: {first}; use backend='numpy'"
        ) from None


def params_vector(system: System, batch: tuple[int, ...]) -> np.ndarray:
    """The parameters as the loop reads them: (params,) when shared, else (params, members),
    each broadcast over the batch shape ``batch`` and flattened."""
    values = list(system.params.values())
    if shared_params(system):
        return np.array([float(v) for v in values] or [0.0])
    return np.ascontiguousarray(
        np.stack([np.broadcast_to(v, batch).reshape(-1) for v in values]), dtype=np.float64
    )
