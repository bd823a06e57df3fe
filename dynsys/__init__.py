"""dynsys: ordinary differential equations as discrete recurrences, and RNNs fitted to them.

The public API::

    get_system(name, **params)              a built-in system with its parameters set
    simulate(system, s0, t_span=, dt=, method=, save_every=)  -> Trajectory
    reference(system, s0, t, method="DOP853", rtol=1e-10, atol=1e-12)  -> Trajectory
    compare(system, s0, t_span=, dt=, methods=)  -> Comparison
    convergence(system, s0, method=, t_span=, dt=, levels=)  -> Convergence
    lyapunov(system, s0, dt=, method=, t_end=, transient=, spectrum=)  -> LyapunovResult
    load_trajectory(path)  -> Trajectory     a file written by simulate --out (.csv/.npz/.json)
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import DivergenceError, DynsysError, InputError, SolverError
from .lyapunov import LyapunovResult, lyapunov
from .metrics import ErrorMetrics, energy_drift, energy_error, error_metrics, observed_order
from .output import load_trajectory
from .reference import reference
from .simulate import Recurrence, simulate
from .steppers import METHODS, STEPPERS, Stepper, get_stepper
from .study import Comparison, Convergence, compare, convergence
from .systems import SYSTEMS, DiscreteMap, Parameter, System, get_system, register
from .trajectory import Trajectory

__all__ = [
    "METHODS",
    "STEPPERS",
    "SYSTEMS",
    "Comparison",
    "Convergence",
    "DiscreteMap",
    "DivergenceError",
    "DynsysError",
    "ErrorMetrics",
    "InputError",
    "LyapunovResult",
    "Parameter",
    "Recurrence",
    "SolverError",
    "Stepper",
    "System",
    "Trajectory",
    "__version__",
    "compare",
    "convergence",
    "energy_drift",
    "energy_error",
    "error_metrics",
    "get_stepper",
    "get_system",
    "load_trajectory",
    "lyapunov",
    "observed_order",
    "reference",
    "register",
    "simulate",
]
