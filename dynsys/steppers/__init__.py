"""Steppers: the rules that turn ds/dt = g(t, s, x) and a step h into a recurrence.

The registry :data:`STEPPERS` holds every method by name; the command line, the YAML schema,
the compiled loop and the plots read it.  The methods themselves live in :mod:`.explicit`
(Runge-Kutta tableaus, semi-implicit Euler), and the base class in :mod:`.base`.
"""

from __future__ import annotations

from ..errors import InputError, unknown_name
from ..systems.base import System
from .base import AttributeParams, MapIteration, StepFunction, Stepper, Workspace, components_first
from .explicit import EXPLICIT, ExplicitRungeKutta, SemiImplicitEuler
from .implicit import BDF2, IMPLICIT, DiagonallyImplicitRungeKutta, NewtonError
from .symplectic import SYMPLECTIC, Splitting

__all__ = [
    "BDF2",
    "METHODS",
    "REFERENCE_METHOD",
    "STEPPERS",
    "AttributeParams",
    "DiagonallyImplicitRungeKutta",
    "ExplicitRungeKutta",
    "MapIteration",
    "NewtonError",
    "SemiImplicitEuler",
    "Splitting",
    "StepFunction",
    "Stepper",
    "Workspace",
    "components_first",
    "default_method",
    "get_stepper",
]

STEPPERS: dict[str, Stepper] = {
    s.name: s
    for s in (
        *EXPLICIT,
        *IMPLICIT,
        *SYMPLECTIC,
        MapIteration("map", 0, (), "iteration of a discrete map", kind="map"),
    )
}

REFERENCE_METHOD = "solve_ivp"
METHODS = (*tuple(name for name in STEPPERS if name != "map"), REFERENCE_METHOD)
"""Method names accepted for continuous systems: the steppers and scipy's solve_ivp."""


def get_stepper(name: str, system: System | None = None) -> Stepper:
    """The stepper called ``name``, checked against the kind of ``system`` if one is given."""
    if name == "solve_ivp":
        raise InputError("solve_ivp is scipy's adaptive solver, not a stepper: use simulate()")
    if name not in STEPPERS:
        raise unknown_name("method", name, (*METHODS, "map"))
    stepper = STEPPERS[name]
    if system is not None and stepper.kind != system.kind:
        if system.kind == "map":
            raise InputError(f"{system.name} is a discrete map; its only method is 'map'")
        raise InputError(f"method 'map' iterates discrete maps; {system.name} is an ODE")
    if system is not None:
        stepper.check(system)
    return stepper


def default_method(system: System) -> str:
    """'euler' for an ODE, 'map' for a discrete map."""
    return "map" if system.kind == "map" else "euler"
