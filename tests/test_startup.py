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
