"""The registry of systems: look one up by name, or register your own.

>>> from dynsys.systems import get_system
>>> get_system("driven_oscillator", k=4.0)
DrivenOscillator(m=1, k=4, A=0.5, c=0, omega=1)
"""

from __future__ import annotations

from typing import Any

from ..errors import unknown_name
from .base import DiscreteMap, Parameter, System, jacobian_matrix
from .classic import Duffing, ExponentialDecay, Lorenz, LotkaVolterra, Pendulum, VanDerPol
from .maps import HenonMap, LogisticMap
from .oscillator import DrivenOscillator
from .stiff import ProtheroRobinson, Robertson

SYSTEMS: dict[str, type[System]] = {}


def register(cls: type[System]) -> type[System]:
    """Add a System subclass to the registry under ``cls.name`` (usable as a decorator)."""
    SYSTEMS[cls.name] = cls
    return cls


for _cls in (
    DrivenOscillator,
    ExponentialDecay,
    Pendulum,
    VanDerPol,
    Duffing,
    LotkaVolterra,
    Lorenz,
    LogisticMap,
    HenonMap,
    Robertson,
    ProtheroRobinson,
):
    register(_cls)


def system_class(name: str) -> type[System]:
    """The registered class called ``name``; an unknown name lists the known ones."""
    try:
        return SYSTEMS[name]
    except KeyError:
        raise unknown_name("system", name, SYSTEMS) from None


def get_system(name: str, /, **params: Any) -> System:
    """The system called ``name`` with its parameters set (the others keep their defaults)."""
    return system_class(name)(**params)


__all__ = [
    "SYSTEMS",
    "DiscreteMap",
    "Parameter",
    "System",
    "get_system",
    "jacobian_matrix",
    "register",
    "system_class",
]
