"""Start-up: importing dynsys, or starting its command line, leaves the heavy libraries
(scipy.integrate, scipy.optimize, scipy.linalg, scipy.sparse, matplotlib, numba, llvmlite)
for first use."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "scipy.integrate",
    "scipy.optimize",
    "scipy.linalg",
    "scipy.sparse",
    "matplotlib",
    "numba",
    "llvmlite",
)
PROBE = """
import json, sys
import {module}
print(json.dumps(sorted(m for m in {heavy} if m in sys.modules)))
"""


@pytest.mark.parametrize("module", ["dynsys", "dynsys.cli", "dynsys.rnn"])
def test_importing_leaves_the_heavy_libraries_for_first_use(module):
    code = PROBE.format(module=module, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_the_reference_still_imports_solve_ivp_when_it_solves():
    code = (
        "import sys, dynsys\n"
        "dynsys.reference(dynsys.get_system('exponential_decay'), [1.0], t=[0.0, 0.5, 1.0])\n"
        "print('scipy.integrate' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


COMMANDS_PROBE = """
import json, sys
from click.testing import CliRunner
from dynsys.cli import main
result = CliRunner().invoke(main, {args})
loaded = sorted(m for m in sys.modules if m.startswith("dynsys.cli.") and m != "dynsys.cli.options")
print(json.dumps([result.exit_code, loaded]))
"""


@pytest.mark.parametrize(
    "args, modules",
    [
        (["--version"], []),
        (["systems"], ["dynsys.cli.commands"]),
        (["train", "--help"], ["dynsys.cli.commands", "dynsys.cli.config_commands",
                               "dynsys.cli.plot_commands", "dynsys.cli.rnn_commands"]),
    ],
)  # fmt: skip
def test_a_command_imports_the_command_modules_up_to_its_own(args, modules):
    code = COMMANDS_PROBE.format(args=args)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [0, modules]
