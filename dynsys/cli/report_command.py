"""``dynsys report``: (re)write the report of a run or sweep folder."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import InputError
from . import main


@main.command("report")
@click.argument("run_dir", metavar="RUN_DIR")
def report_command(run_dir: str) -> None:
    """Write RUN_DIR/report.html and report.md from the folder's files; print the path.

    A run's report: what was simulated, the steppers against the reference, the network
    against the steppers, Lyapunov exponents, orbit diagram and events when the run has them,
    an overview figure (plots/overview.png, drawn from trajectories/), the run's figures, its
    wall times, the resolved config, the environment and links to its files.  A sweep's: its
    table with a link to each point's report, and its figure.  report.html holds everything
    (figures embedded): it opens offline.  The same folder gives the same report.  A run that
    did not finish gets a report of what it completed, and exit status 2.

    \b
    Examples:
      dynsys report runs/rnn-oscillator-20250101-120000
      dynsys report runs/dt-sweep-20250101-120000
    """
    from ..experiments.report import report_folder

    done = report_folder(Path(run_dir))
    if done.state != "done":
        why = f" ({done.message})" if done.message else ""
        raise InputError(
            f"{run_dir}: the run is {done.state}, not done{why}; wrote a report of what it "
            f"completed to {done.html}"
        )
    click.echo(str(done.html))
