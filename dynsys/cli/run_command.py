"""``dynsys run``: run the experiment (or the sweep) a YAML config file describes."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import DynsysError, InputError
from . import main


@main.command("run")
@click.argument("config_file", metavar="CONFIG", required=False)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a field by its dotted path; the value is read as YAML (repeatable).",
)
@click.option("--out", metavar="DIR", help="Run folder. Default: runs/<name>-<YYYYmmdd-HHMMSS>.")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace the run in --out DIR once the new one has ended; only files dynsys wrote go.",
)
@click.option("--resume", metavar="DIR", help="Continue the stopped run (or sweep) in DIR.")
@click.option("--jobs", type=int, default=None, help="Sweeps: points run at once (processes).")
@click.option("--scheduler", metavar="ADDRESS", help="Sweeps: run on this Dask scheduler.")
@click.option("--quiet", is_flag=True, help="No progress lines or bars, only the summary.")
def run_command(config_file, sets, out, overwrite, resume, jobs, scheduler, quiet) -> None:
    """Run the experiment of CONFIG (YAML): simulate, compare, train, plot.

    Each stepper of simulation.methods and the solve_ivp reference on one grid (errors against
    solve_ivp and the exact solution), then, with a model, an RNN fitted and tested against the
    steppers, then the figures of plots.  Everything lands in one run folder:
    config.resolved.yaml (re-runs identically), metrics.json, status.json, run.log,
    trajectories/, model.npz, plots/, and report.html and report.md: the tables and figures
    on one page (dynsys report DIR writes them again).  A config with a sweep runs one run per
    point into points/<name>/ (the varied values and a short hash) and writes sweep.csv,
    sweep.json, sweep.png and its report.

    Ctrl-C leaves the completed steps and a status saying what finished; --resume DIR
    continues: completed steps (and sweep points) are skipped, an interrupted training goes
    on from its saved best parameters for the epochs that remained.

    A run folder holds a marker, .dynsys-run.json, listing the files dynsys writes in it, and
    one run at a time writes it (a lock, .dynsys-run.lock).  --overwrite writes the new run
    beside the old one and swaps it in when it ends; it removes only the listed files and
    refuses a folder without a marker.  Exit status: 1 when the run fails, 2 for bad input.

    \b
    Examples:
      dynsys run configs/rnn_oscillator.yaml
      dynsys run configs/seed_oscillator.yaml --set simulation.dt=0.05 --out runs/coarse
      dynsys run configs/dt_sweep.yaml --jobs 4
      dynsys run configs/hidden_seed_sweep.yaml --scheduler tcp://10.0.0.5:8786
      dynsys run --resume runs/rnn-oscillator-20250101-120000
    """
    from ..experiments.config import load_config
    from ..experiments.report import REPORT_HTML, REPORT_MD
    from ..experiments.run import default_folder, resume_config, run_experiment
    from ..experiments.sweep import run_sweep

    if resume is not None:
        given = [
            name
            for name, v in (
                ("CONFIG", config_file),
                ("--set", sets),
                ("--out", out),
                ("--overwrite", overwrite),
            )
            if v
        ]
        if given:
            raise InputError(
                f"--resume DIR re-reads DIR/config.resolved.yaml; drop {', '.join(given)}"
            )
        folder = Path(resume)
        config = resume_config(folder)
    elif config_file is None:
        raise InputError("give a CONFIG file (e.g. dynsys run configs/rnn_oscillator.yaml)")
    else:
        config = load_config(config_file, sets)
        folder = Path(out) if out else default_folder(config)
    if jobs is not None or scheduler is not None:
        if config.sweep is None:
            raise InputError("--jobs and --scheduler apply to a config with a sweep section")
        if jobs is not None and jobs < 1:
            raise InputError(f"--jobs must be >= 1, got {jobs}")
        changes = {"jobs": jobs} if jobs is not None else {}
        if scheduler is not None:
            changes |= {"executor": "dask", "scheduler": scheduler}
        config = config.model_copy(update={"sweep": config.sweep.model_copy(update=changes)})
    echo = None if quiet else (lambda line: click.echo(line, err=True))
    source = str(config_file or folder)
    try:
        if config.sweep is not None:
            result = run_sweep(
                config,
                folder,
                overwrite=overwrite,
                resume=resume is not None,
                echo=echo,
                source=source,
            )
        else:
            result = run_experiment(
                config,
                folder,
                overwrite=overwrite,
                resume=resume is not None,
                progress=False if quiet else None,
                echo=echo,
            )
    except KeyboardInterrupt:
        click.echo(f"interrupted: continue with: dynsys run --resume {folder}", err=True)
        sys.exit(130)
    click.echo(result.summary())
    click.echo(f"report: {folder / REPORT_HTML} (and {REPORT_MD})")
    if getattr(result, "failed", 0):
        raise DynsysError(
            f"{result.failed} of {len(result.rows)} sweep points failed; see {folder}/run.log"
        )
