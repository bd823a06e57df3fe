"""Run the dynsys command line from a checkout: ``python cli.py --help``.

A Python that lacks one of dynsys's dependencies (the system python3 outside the project's
virtual environment, say) gets one line naming the missing package and how to install it,
exit status 1, instead of a traceback.
"""

import sys
from pathlib import Path

PIP_NAMES = {"yaml": "PyYAML"}
"""Module name -> the name pip installs it by, where the two differ."""


def missing_package(err: ModuleNotFoundError) -> str | None:
    """The package to install for a failed import; None when the missing module is dynsys's
    own (a broken checkout is a bug to see in full, not a package to install)."""
    name = (err.name or "").split(".")[0]
    if not name or name == "dynsys":
        return None
    return PIP_NAMES.get(name, name)


def run() -> int:
    try:
        from dynsys.cli import main

        main(prog_name="dynsys")  # exits through SystemExit
    except ModuleNotFoundError as err:
        package = missing_package(err)
        if package is None:
            raise
        checkout = Path(__file__).resolve().parent
        print(
            f"Error: dynsys needs the package {package!r}, which this Python ({sys.executable}) "
            f"does not have; install dynsys with its dependencies: pip install -e . "
            f"(from {checkout})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run())
