"""The ``dynsys`` command line: a thin layer over the library.

Exit status: 0 on success, 1 when a computation or a write fails (a trajectory left the finite
numbers, solve_ivp gave up, the disk is full), 2 for bad input (an unknown name, a value out of
range, a bad file).  Every failure is one line on stderr, never a traceback.
"""

from __future__ import annotations

import click

from .. import __version__, checks
from ..errors import DynsysError, InputError
from ..files import reason


class BadInput(click.ClickException):
    """A one-line error for bad input, exit status 2 (click's own usage errors are 2 too)."""

    exit_code = 2


class DynsysGroup(click.Group):
    """Turns library errors into one-line messages instead of tracebacks."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as err:  # click's own: one line too, with where to read more
            where = err.ctx.command_path if err.ctx is not None else "dynsys"
            raise BadInput(f"{err.format_message()} (see: {where} --help)") from None
        except InputError as err:
            raise BadInput(str(err)) from None
        except DynsysError as err:
            raise click.ClickException(str(err)) from None
        except OSError as err:  # a file operation outside dynsys.files: still one line
            where = f" {err.filename}" if err.filename else ""
            raise click.ClickException(f"cannot use{where}: {reason(err)}") from None
        except ModuleNotFoundError as err:  # a dependency missing from this Python
            package = (err.name or "").split(".")[0]
            if not package or package == "dynsys":
                raise
            raise click.ClickException(
                f"this command needs the package {package!r}, which this Python does not have; "
                "install dynsys with its dependencies: pip install -e ."
            ) from None
        except MemoryError:
            raise click.ClickException(
                "ran out of memory; ask for a smaller computation (fewer steps, a smaller batch)"
            ) from None


class MainGroup(DynsysGroup):
    """The ``dynsys`` group: its commands' modules are imported when needed, in order, until
    the command asked for is found, so ``dynsys --version`` imports none of them and
    ``dynsys systems`` only the first."""

    MODULES = (
        "commands",
        "config_commands",
        "plot_commands",
        "rnn_commands",
        "run_command",
        "lyapunov_command",
        "bifurcation_command",
        "workprecision_command",
        "basins_command",
        "report_command",
        "explore_command",
    )
    _imported = 0  # how many of MODULES are imported (they add their commands to the group)

    def _import_next(self) -> bool:
        if MainGroup._imported == len(self.MODULES):
            return False
        import importlib

        module = self.MODULES[MainGroup._imported]
        MainGroup._imported += 1  # before importing: the module adds its commands here
        importlib.import_module(f"{__name__}.{module}")
        return True

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        while cmd_name not in self._commands and self._import_next():
            pass
        return self._commands.get(cmd_name)

    @property
    def commands(self) -> dict[str, click.Command]:
        """Every command (all modules imported): for listing them."""
        while self._import_next():
            pass
        return self._commands

    @commands.setter
    def commands(self, value: dict[str, click.Command]) -> None:
        self._commands = value

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.commands)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        """Register ``cmd`` (what a command module does as it is imported)."""
        name = name or cmd.name
        if name is None:
            raise TypeError("Command has no name.")
        self._commands[name] = cmd


@click.group(
    cls=MainGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "-V", "--version", prog_name="dynsys")
@click.option(
    "--max-memory",
    metavar="SIZE",
    default=None,
    help="Refuse work needing more memory than SIZE (8GiB, 500MB, 2e9). Default: "
    f"${checks.MEMORY_VARIABLE}, else half the memory available (free memory, rlimits, cgroup).",
)
@click.option(
    "--max-steps",
    metavar="N",
    default=None,
    help="Refuse loops of more than N steps (trajectories x steps, or sequences x steps x "
    f"epochs). Default: ${checks.STEPS_VARIABLE}, else {checks.DEFAULT_MAX_STEPS:.0e}.",
)
@click.pass_context
def main(ctx: click.Context, max_memory: str | None, max_steps: str | None) -> None:
    """dynsys: ordinary differential equations as discrete recurrences.

    Simulate a system with a stepper (Euler and better), batched over initial states and
    parameters, and compare it with scipy's solve_ivp and the exact solution.

    \b
    Start here:
      dynsys systems
      dynsys compare driven_oscillator --dt 0.01 --t-end 50

    Work that would exceed the memory or step ceiling is refused before it starts; raise
    them before the command: dynsys --max-memory 8GiB --max-steps 1e9 simulate ...
    """
    ctx.with_resource(checks.limits(max_memory=max_memory, max_steps=max_steps))


__all__ = ["BadInput", "main"]
