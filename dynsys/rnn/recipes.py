"""Recipes: the settings ``dynsys train SYSTEM --model KIND`` uses when told nothing else.

A recipe is data in three layers, later ones set over earlier ones:

1. the defaults of :class:`~dynsys.rnn.data.DatasetSpec`, of the kind's ``Settings`` and of
   :class:`~dynsys.rnn.settings.TrainSettings`;
2. the kind's own ``recipe`` (a class attribute: e.g. the Elman network fits 20-step windows,
   then whole trajectories);
3. the system's entry of :data:`SYSTEM_RECIPES`: the dataset (step h, horizon, which parameters
   are fixed or sampled), ``linear: True`` for a linear system (networks then use the identity
   activation, which represents its step map exactly, where tanh must imitate a linear map in
   the nearly linear part of its range), and per-kind changes under ``kinds``.

Where the initial states are drawn (and the transient that puts them on an attractor) is
declared by each system (``typical_s0``, ``transient``; see :mod:`dynsys.systems.base`).

Why these numbers (measured with ``benchmarks/forecast.py``):

- driven_oscillator: the setting of the first floors (m = k = 1, c = 0, A in [0.2, 1],
  h = 0.1, 200 steps).  Linear: a residual tanh Jordan network reached a rollout rel L2 of
  4.3e-3 after 2,000 L-BFGS iterations, the identity one 5e-7 after 300.
- lorenz: h = 0.01 (the scale of its fastest time, 1/sigma), trajectories of 25 time units (23
  Lyapunov times) for test rollouts, and training windows of 100 steps.
- pendulum, esn: its states span both sides of the separatrix (theta as (cos, sin)), where
  the small swings are a sliver of the data: 1,000 units on 512 trajectories reach 2e-3
  (500 units on 64: 0.30; 1,000 on 256: 4e-3; 2,000 on 256 with ridge 1e-6: 0.15).
- duffing, lotka_volterra, lorenz, ngrc: cubic monomials of two delays; Duffing's field is
  cubic (its NG-RC rollout: 5e-7, beside RK4's 1.5e-5 at the same h; quadratic monomials
  diverge), Lotka-Volterra's 6e-4 (quadratic: 0.11).
- lorenz, ngrc: cubic monomials of two delays (120 features): about 14 Lyapunov times of
  valid forecast where the quadratic ones (Gauthier et al.'s 36 features) give 6 to 8 and can
  diverge at a small ridge.
- lorenz, mlp: one layer of 64 tanh units, the linear path and the factor g set from the
  increments, 12,000 one-step L-BFGS iterations on 4 trajectories (validation on 4), then 300
  on 10-step rollouts: 7.7, 7.4, 6.3 Lyapunov times for seeds 0, 1, 2, under 2 minutes a fit
  (the two-layer network without them: 3.5 after 500 iterations on 16 trajectories).
- lorenz, esn: 32 training trajectories of 2,500 steps (8.1, 8.1, 8.4 Lyapunov times for
  seeds 0-2, a fit of 1.2-1.7 s; on 64: 8.3, 8.1, 8.2 in 2.4-3.0 s).
- lorenz, elman and gru: 200 iterations on 100-step windows and no whole-trajectory stage (a
  network that maps the drive to the trajectory has no drive to read on an autonomous chaotic
  system: about 1 Lyapunov time whatever the budget, which only costs minutes).
- duffing: the non-chaotic setting gamma = 0.1 (one well, periodic response); at the default
  gamma = 0.3 it is chaotic and a 20-time-unit forecast is not defined beyond a few Lyapunov
  times.
"""

from __future__ import annotations

import copy
from typing import Any

from .kinds import model_class

SYSTEM_RECIPES: dict[str, dict[str, Any]] = {
    "driven_oscillator": {
        "linear": True,
        "dataset": {
            "params": {"m": 1.0, "k": 1.0, "c": 0.0},
            "ranges": {"A": (0.2, 1.0)},
            "h": 0.1,
            "t_end": 20.0,
            "n_train": 64,
            "n_val": 16,
            "n_test": 32,
        },
        "kinds": {"jordan": {"training": {"epochs": 300}}},
    },
    "exponential_decay": {"linear": True, "dataset": {"h": 0.1, "t_end": 20.0}},
    "pendulum": {
        "dataset": {"h": 0.1, "t_end": 20.0},
        "kinds": {
            "esn": {"dataset": {"n_train": 512}, "model": {"units": 1000}},
            "ngrc": {"model": {"delays": 1}},
        },
    },
    "van_der_pol": {
        "dataset": {"h": 0.1, "t_end": 20.0},
        "kinds": {"ngrc": {"model": {"delays": 1, "degree": 3}}},
    },
    "duffing": {
        "dataset": {"params": {"gamma": 0.1}, "h": 0.1, "t_end": 20.0},
        "kinds": {"ngrc": {"model": {"degree": 3}}},
    },
    "lotka_volterra": {
        "dataset": {"h": 0.1, "t_end": 20.0},
        "kinds": {"ngrc": {"model": {"degree": 3}}},
    },
    "lorenz": {
        "dataset": {"h": 0.01, "t_end": 25.0, "seq_len": 100},
        "kinds": {
            "ngrc": {"model": {"degree": 3}},
            "esn": {"dataset": {"n_train": 32}},
            "elman": {"training": {"epochs": 200, "whole_epochs": 0}},
            "gru": {"training": {"epochs": 200, "whole_epochs": 0}},
            "mlp": {
                "dataset": {"n_train": 4, "n_val": 4},
                "model": {"layers": 1, "linear": True, "scale": "increments"},
                "training": {"epochs": 12000},
            },
        },
    },
}
"""Per system: ``dataset`` fields, ``linear``, and per-kind ``model``/``training``/``dataset``."""


def recipe(system: str, kind: str) -> dict[str, dict[str, Any]]:
    """The recipe of ``kind`` on ``system``: {"dataset": ..., "model": ..., "training": ...}."""
    cls = model_class(kind)
    out: dict[str, dict[str, Any]] = {"dataset": {}, "model": {}, "training": {}}
    book = SYSTEM_RECIPES.get(system, {})
    layers = [
        getattr(cls, "recipe", {}),
        {"dataset": book.get("dataset", {})},
        book.get("kinds", {}).get(kind, {}),
    ]
    for layer in layers:
        for section, values in layer.items():
            out[section].update(copy.deepcopy(values))
    if book.get("linear") and "activation" in cls.settings_fields():
        out["model"].setdefault("activation", "identity")
    return out
