"""Regenerate docs/gallery/: one figure of each kind, at 100 dpi.

Run from anywhere:  python docs/make_gallery.py            (every figure)
                    python docs/make_gallery.py stability  (those whose name contains a word)

On one machine with the same versions of numpy, scipy, matplotlib (with the FreeType it was
built with) and Pillow, the same inputs give the same bytes, so an unchanged figure leaves git
status clean.  On another machine some figures may differ by a few pixels: floating point can
differ in its last bits between CPUs (numpy's vectorised loops, the BLAS under an RNN's
training), which the chaotic Lorenz and Duffing trajectories and the training curves amplify,
and other versions of matplotlib, FreeType or Pillow render text and choose palettes a little
differently.  No file holds a date or a version stamp.

The PNGs are rewritten with a 256-colour palette (Pillow, which matplotlib installs) to keep
them small.  Each line printed gives a figure's size and the seconds it took.
"""

from __future__ import annotations

import sys
import time
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from dynsys import get_system, simulate
from dynsys.basins import basins
from dynsys.files import atomic_write
from dynsys.lyapunov import lyapunov
from dynsys.orbits import orbit_diagram
from dynsys.parallel.study import default_cases, newton_study
from dynsys.plots import (
    convergence_plot,
    error_plot,
    phase_portrait,
    rnn_graph,
    rnn_unrolled_plot,
    rollout_plot,
    save_figure,
    stability_plot,
    stepper_graph,
    timeseries_plot,
    training_curves,
    unrolled_plot,
    vector_field_plot,
)
from dynsys.plots.basins import basins_plot
from dynsys.plots.bifurcation import orbit_diagram_plot
from dynsys.plots.overview import overview_plot
from dynsys.plots.parallel import newton_iterations_plot
from dynsys.plots.workprecision import workprecision_plot
from dynsys.rnn.pipeline import train_model
from dynsys.rnn.settings import plan_fit
from dynsys.workprecision import work_precision

GALLERY = Path(__file__).resolve().parent / "gallery"


@cache
def jordan():
    """What `dynsys train driven_oscillator --model jordan` fits: a residual Jordan network of
    32 identity units on 64 trajectories of the oscillator, h = 0.1 (under a second)."""
    return train_model(plan_fit("driven_oscillator", "jordan"), progress=False)


def logistic_exponents():
    """What `dynsys bifurcation logistic_map --param r=2.8,4 --n 2000 --lyapunov` draws beneath."""
    swept = get_system("logistic_map", r=np.linspace(2.8, 4.0, 2000))
    return lyapunov(swept, [0.2], t_end=3000, transient=1000).exponents[..., 0].reshape(-1)


def oscillator_overview():
    """The overview of `dynsys run configs/rnn_oscillator.yaml`'s report (plots/overview.png):
    euler, semi-implicit Euler and rk4 at dt = 0.01 on [0, 20] against solve_ivp."""
    osc, span = get_system("driven_oscillator"), (0.0, 20.0)
    runs = {
        m: simulate(osc, [1.0, 0.0], t_span=span, dt=0.01, method=m)
        for m in ("euler", "semi_implicit_euler", "rk4")
    }
    reference = simulate(osc, [1.0, 0.0], t_span=span, dt=0.01, method="solve_ivp")
    return overview_plot(runs, reference)


FIGURES = {
    "overview.png": oscillator_overview,
    "phase_van_der_pol.png": lambda: phase_portrait(
        get_system("van_der_pol", mu=1.0), grid=5, xlim=(-3, 3), ylim=(-4, 4), t_span=(0, 15)
    ),
    "phase_pendulum_methods.png": lambda: phase_portrait(
        get_system("pendulum"),
        [1.0, 0.0],
        methods="euler,semi_implicit_euler",
        dt=0.05,
        t_span=(0, 12),
        xlim=(-4, 4),
        ylim=(-7, 7),
    ),
    "phase_duffing_poincare.png": lambda: phase_portrait(  # 477 forcing periods
        get_system("duffing", delta=0.3, gamma=0.5),
        [1.0, 0.0],
        poincare=True,
        t_span=(0, 2500),
        transient=100,
    ),
    "phase_pendulum.png": lambda: phase_portrait(get_system("pendulum")),
    "phase_lorenz_3d.png": lambda: phase_portrait(get_system("lorenz"), t_span=(0, 40)),
    "phase_lorenz_section.png": lambda: phase_portrait(
        get_system("lorenz"), section="z=27,dz>0", t_span=(0, 1000), transient=10
    ),
    "phase_lorenz_projections.png": lambda: phase_portrait(
        get_system("lorenz"), t_span=(0, 40), projections=True
    ),
    "phase_logistic_cobweb.png": lambda: phase_portrait(
        get_system("logistic_map", r=3.2), [[0.1], [0.95]], t_span=(0, 30), xlim=(0, 1)
    ),
    "phase_henon_orbit.png": lambda: phase_portrait(get_system("henon_map"), t_span=(0, 20000)),
    "basins_duffing.png": lambda: basins_plot(
        basins(
            get_system("duffing", alpha=-1.0, beta=1.0, delta=0.3, gamma=0.0),
            grid=400,
            xlim=(-2, 2),
            ylim=(-2, 2),
        )
    ),
    "basins_pendulum.png": lambda: basins_plot(
        basins(get_system("pendulum", damping=0.3), grid=300, xlim=(-9.5, 9.5), ylim=(-10, 10))
    ),
    "bifurcation_lorenz_section.png": lambda: orbit_diagram_plot(
        orbit_diagram(
            get_system("lorenz"),
            "rho",
            np.linspace(25, 200, 200),
            section="z=rho-1,dz>0",
            t_end=60,
            transient=20,
            state="x",
        )
    ),
    "bifurcation_logistic.png": lambda: orbit_diagram_plot(
        orbit_diagram("logistic_map", "r", np.linspace(2.8, 4.0, 2000)),
        exponents=logistic_exponents(),
    ),
    "phase_decay_vs_time.png": lambda: phase_portrait(
        get_system("exponential_decay"),
        [1.0],
        vs_time=True,
        methods="euler,heun",
        dt=0.5,
        t_span=(0, 6),
    ),
    "timeseries.png": lambda: timeseries_plot(
        get_system("driven_oscillator"), t_span=(0, 30), dt=0.1
    ),
    "error.png": lambda: error_plot(get_system("driven_oscillator"), t_span=(0, 30), dt=0.05),
    "convergence.png": lambda: convergence_plot(
        get_system("driven_oscillator"), methods="euler,semi_implicit_euler,heun,rk4"
    ),
    "stability.png": lambda: stability_plot(get_system("driven_oscillator"), dt=0.5),
    "stability_implicit.png": lambda: stability_plot(
        get_system("exponential_decay", rate=50),
        dt=0.1,
        methods="euler,rk4,implicit_euler,trapezoidal,sdirk3,bdf2",
    ),
    "workprecision_prothero_robinson.png": lambda: (
        workprecision_plot(
            work_precision(
                get_system("prothero_robinson"),
                [1.0],
                t_end=2.0,
                methods=("euler", "rk4", "trapezoidal", "sdirk3", "bdf2", "Radau", "BDF"),
                dts=(0.1, 0.03, 0.01, 0.003, 0.001),
                rtols=(1e-3, 1e-5, 1e-7, 1e-9),
            )
        ),
        None,
    ),
    "newton_iterations.png": lambda: newton_iterations_plot(  # 15 systems x 3 variants
        newton_study(default_cases(), n_steps=2000, dt=0.01, method="rk4")
    ),
    "unrolled.png": lambda: unrolled_plot(
        stepper_graph(get_system("driven_oscillator"), "rk4", 0.01), 4
    ),
    "unrolled_rnn.png": lambda: unrolled_plot(rnn_graph(), 3),
    "unrolled_jordan.png": lambda: rnn_unrolled_plot(jordan(), 3),
    "rnn_training.png": lambda: training_curves(jordan()),
    "rnn_rollout.png": lambda: rollout_plot(jordan(), n=4),
    "rnn_field.png": lambda: vector_field_plot(jordan()),
}


def _palette(path: Path) -> Path:
    """Rewrite a PNG with a 256-colour palette: a third of the size, the same look."""
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(256, dither=Image.Dither.NONE)
    return atomic_write(path, lambda f: small.save(f, format="png", optimize=True))


def main(words: list[str]) -> None:
    GALLERY.mkdir(exist_ok=True)
    for name, make in FIGURES.items():
        if words and not any(w in name for w in words):
            continue
        began = time.perf_counter()
        fig, _ = make()
        path = _palette(save_figure(fig, GALLERY / name, dpi=100))
        size, took = path.stat().st_size / 1024, time.perf_counter() - began
        print(f"{path.relative_to(GALLERY.parent)}  {size:.0f} KiB  {took:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
