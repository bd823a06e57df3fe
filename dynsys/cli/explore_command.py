"""``dynsys explore``: the interactive phase-plane explorer in the browser."""

from __future__ import annotations

import click

from . import main


@main.command("explore")
@click.argument("target", metavar="[SYSTEM|CONFIG.yaml|MODEL.npz]", required=False)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port to listen on; 0 takes a free one.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but the loopback lets other machines reach it.",
)
@click.option("--no-browser", is_flag=True, help="Print the URL without opening a browser.")
def explore_command(target: str | None, port: int, host: str, no_browser: bool) -> None:
    """Explore a system in the browser: click in the phase plane to start trajectories
    (shift-click: backward in time), pick the stepper and the step h, move the parameters,
    and see the vector field, the nullclines, the equilibria and the stability region.

    TARGET is a system (default: driven_oscillator), an experiment CONFIG (.yaml; the system
    of its system section, with its s0, dt and t_end), or a MODEL (.npz from dynsys train;
    its learned field and rollouts beside the true ones).  The server runs on this machine,
    fetches nothing from the network, and stops with Ctrl-C.

    \b
    Examples:
      dynsys explore
      dynsys explore van_der_pol
      dynsys explore lorenz --port 8765 --no-browser
      dynsys explore configs/user_pendulum.yaml
      dynsys train driven_oscillator --model jordan --out jordan.npz
      dynsys explore jordan.npz
    """
    from ..explore import load_target, serve

    loaded = load_target(target or "driven_oscillator")  # bad input: one line, exit 2
    serve(
        loaded,
        host=host,
        port=port,
        open_browser=not no_browser,
        echo=click.echo,
        warn=lambda line: click.echo(line, err=True),
    )
