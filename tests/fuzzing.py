"""The command line's contract, checked on generated invocations (tests/test_fuzz_cli.py).

Every ``dynsys`` invocation ends in one of two ways:

- success: exit 0, and every file it wrote exists and is complete (a JSON file parses, an .npz
  opens, a PNG ends with its IEND chunk, a run folder's status says "done");
- a clean error: exit 2 (bad input) or 1 (a failed computation or write), and stderr ends with
  ONE line starting "Error:" (click's usage lines may precede a usage error);

never with a traceback, an exception other than SystemExit, an OSError or MemoryError that
only the command line's last safety net caught (the library should raise an error naming the
field), a warning shown to the user, a temporary file (``.NAME.RANDOM.tmp``) left behind, a
child process left running, more than :data:`TIME_LIMIT` seconds or :data:`MEMORY_LIMIT` bytes
of memory.  :func:`invoke` runs one invocation in this process through click's CliRunner under
those limits and lists what broke the contract, each with the place in dynsys it comes from.

The commands, their options and the options' types are read from click (``main.commands``,
each command's ``params``); :func:`role` picks a generator from the option's type, then its
metavar (NAME=VALUE, V1,V2,..., KEY=VALUE, DIR, ...), then its name, so a new option is fuzzed
with no change here.  :data:`CHEAP` keeps each example small where an option is not the one
being fuzzed.

Environment variables:

- ``DYNSYS_SLOW=1`` (or ``pytest --runslow``) also runs the tests marked slow, among them the
  long fuzz runs;
- ``DYNSYS_FUZZ_EXAMPLES=N``: examples per long fuzz test (default 2000);
- ``DYNSYS_FUZZ_REPORT=FILE``: also append every violation found to FILE, one JSON per line.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import os
import re
import resource
import shlex
import shutil
import signal
import stat
import threading
import time
import traceback
import warnings
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import click
import hypothesis
import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import dynsys
from dynsys.cli import main

BUILT_IN = dict(dynsys.SYSTEMS)
"""The built-in systems, read before a model file or config registers one of its own."""
TIME_LIMIT = 20.0
"""Seconds one invocation may take."""
MEMORY_LIMIT = 2 * 2**30
"""Bytes of resident memory one invocation may add before it is stopped, so that a request
that slipped past the size checks cannot starve the machine."""
ADDRESS_LIMIT = 12 * 2**30
"""Bytes of address space one invocation may add (reserved, not necessarily used): beyond,
an allocation is a MemoryError."""
TEMP_FILE = re.compile(r"^\..+\.tmp$")
QUIET_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)
"""Python does not show these to a user running a program; the others reach stderr."""


# -- one invocation ------------------------------------------------------------------------


class Stopped(BaseException):
    """Raised in the main thread when an invocation runs past a limit of time or memory."""


@dataclasses.dataclass
class Outcome:
    """What one invocation did, and each broken rule as (where, what)."""

    argv: list[str]
    exit_code: int | None
    stdout: str
    stderr: str
    seconds: float
    problems: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    setup: str = ""
    """What was done to the inputs first (a damaged file), when anything was."""

    @property
    def command_line(self) -> str:
        return shlex.join(["dynsys", *(_abbreviated(a) for a in self.argv)])


def invoke(argv: list[str], cwd: Path) -> Outcome:
    """Run ``dynsys ARGV`` in ``cwd`` and check the contract."""
    before = snapshot(cwd)
    children_before = set(children())
    error: BaseException | None = None
    started = time.monotonic()
    with (
        contextlib.chdir(cwd),
        shown_warnings() as shown,
        caught_errors() as caught,
        limits(TIME_LIMIT, MEMORY_LIMIT, ADDRESS_LIMIT),
    ):
        try:
            result = CliRunner().invoke(main, argv, prog_name="dynsys")
        except Stopped as stopped:
            result, error = None, stopped
    seconds = time.monotonic() - started
    home = command_module(argv)
    if result is None:
        outcome = Outcome(argv, None, "", "", seconds)
        outcome.problems.append((_frame(error.__traceback__) or home, str(error)))
    else:
        outcome = Outcome(argv, result.exit_code, result.stdout, result.stderr, seconds)
        outcome.problems += _result_problems(result, argv, home, caught)
    outcome.problems += [(where, f"a warning reached the user: {text}") for where, text in shown]
    outcome.problems += [(home, text) for text in _left_running(children_before)]
    outcome.problems += [
        (home, text) for text in file_problems(cwd, before, argv, outcome.exit_code)
    ]
    return outcome


def _result_problems(result, argv, home, caught) -> list[tuple[str, str]]:
    problems = []
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        text = f"{type(exc).__name__}: {_first_line(str(exc))}"
        problems.append((_frame(exc.__traceback__) or home, f"exception escaped: {text}"))
        return problems
    if result.exit_code not in (0, 1, 2):
        problems.append((home, f"exit status {result.exit_code}, not 0, 1 or 2"))
    if "Traceback" in result.stdout + result.stderr:
        problems.append((home, "a traceback was printed"))
    if result.exit_code != 0:
        why = error_lines_problem(result.stderr, quiet=_quiet(argv))
        if why:
            problems.append((home, f"exit {result.exit_code}, {why}"))
        caught = _caught_by_safety_net(caught)
        if isinstance(caught, MemoryError):
            what = f"ran out of memory (more than {ADDRESS_LIMIT / 2**30:g} GiB of address space)"
            problems.append((_frame(caught.__traceback__) or home, what))
        elif caught is not None:
            what = (
                f"{type(caught).__name__} reached the last safety net: {_first_line(str(caught))}"
            )
            problems.append((_frame(caught.__traceback__) or home, what))
    return problems


def _caught_by_safety_net(errors: list[click.ClickException]) -> BaseException | None:
    """The MemoryError or bare OSError that the command line's group turned into its one-line
    message, or None: the library should raise a DynsysError naming the field instead."""
    from dynsys.errors import DynsysError

    for error in errors:
        cause = error.__context__
        if isinstance(cause, MemoryError | OSError) and not isinstance(cause, DynsysError):
            return cause
    return None


@contextlib.contextmanager
def caught_errors() -> Iterator[list[click.ClickException]]:
    """The ClickExceptions the command line's group raises, with what they replaced as their
    ``__context__`` (click prints only the message)."""
    group = type(main)
    original = group.invoke
    caught: list[click.ClickException] = []

    def invoke(self, ctx):
        try:
            return original(self, ctx)
        except click.ClickException as err:
            caught.append(err)
            raise

    with mock.patch.object(group, "invoke", invoke):
        yield caught


def error_lines_problem(stderr: str, *, quiet: bool = True) -> str | None:
    """Why ``stderr`` is not one 'Error:' line (after click's usage lines), or None.

    Without ``quiet`` (a command that shows progress on stderr and was not given --quiet),
    progress lines may precede the error line."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if lines and lines[0].startswith("Usage: "):  # click's usage error: Usage:, Try ..., Error:
        lines = [line for line in lines[1:] if not line.startswith("Try '")]
    errors = [line for line in lines if line.startswith("Error:")]
    if len(errors) != 1 or lines[-1] != errors[0] or (quiet and len(lines) != 1):
        return f"stderr is not one 'Error:' line: {_abbreviated(stderr.strip(), 300)!r}"
    if len(errors[0].strip()) <= len("Error:"):
        return "an empty error message"
    return None


def _quiet(argv: list[str]) -> bool:
    command = find_command(argv)
    has_quiet = command is not None and any(p.name == "quiet" for p in command.params)
    return not has_quiet or "--quiet" in argv


# -- limits: time, memory, warnings, processes ---------------------------------------------


@contextlib.contextmanager
def limits(seconds: float, resident: int, address: int) -> Iterator[None]:
    """Raise :class:`Stopped` in the main thread after ``seconds``, or once this process's
    resident memory has grown by ``resident`` bytes; make allocations beyond ``address`` more
    bytes of address space fail with MemoryError."""
    armed = True
    reasons = {
        signal.SIGALRM: f"no answer within {seconds:g} s",
        signal.SIGUSR1: f"used more than {resident / 2**30:g} GiB of memory",
    }

    def stop(signum, frame):
        if armed:
            raise Stopped(reasons[signum])

    previous = {signum: signal.signal(signum, stop) for signum in reasons}
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _memory("VmSize") + address
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard < 0 else min(cap, hard), hard))
    done = threading.Event()
    watch = threading.Thread(target=_watch_memory, args=(_memory("VmRSS") + resident, done))
    watch.start()
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        done.set()
        watch.join()
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _watch_memory(limit: int, done: threading.Event) -> None:
    """Send SIGUSR1 to this process once its resident memory passes ``limit`` bytes."""
    while not done.wait(0.02):
        if _memory("VmRSS") > limit:
            os.kill(os.getpid(), signal.SIGUSR1)
            return


def _memory(field: str) -> int:
    """A size from /proc/self/status (VmSize, VmRSS) in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def shown_warnings() -> Iterator[list[tuple[str, str]]]:
    """Collect, instead of printing, the warnings a user would see, with where they arose."""
    shown: list[tuple[str, str]] = []

    def show(message, category, filename, lineno, file=None, line=None):
        where = _frame_of_stack(traceback.extract_stack()) or f"{filename}:{lineno}"
        shown.append((where, f"{category.__name__}: {_first_line(str(message))}"))

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        for category in QUIET_WARNINGS:
            warnings.simplefilter("ignore", category)
        warnings.showwarning = show
        yield shown


def children() -> list[int]:
    """The process ids of this process's children."""
    pids = []
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):
            pids += [int(p) for p in (task / "children").read_text().split()]
    return pids


def _left_running(before: set[int]) -> list[str]:
    """Children started by the invocation and still running 2 s later (then killed)."""
    deadline = time.monotonic() + 2.0
    while True:
        left = [p for p in children() if p not in before and not _helper(p)]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    problems = []
    for pid in left:
        if _zombie(pid):  # ended, not yet reaped
            with contextlib.suppress(OSError):
                os.waitpid(pid, os.WNOHANG)
            continue
        problems.append(f"child process {pid} left running: {cmdline(pid)[:120]}")
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    return problems


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def _helper(pid: int) -> bool:
    """multiprocessing's resource tracker lives as long as its parent, by design."""
    return "multiprocessing.resource_tracker" in cmdline(pid)


def cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


# -- files: what changed, and whether it is whole ------------------------------------------


def snapshot(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under ``folder`` (links not followed): its type, size and mtime."""
    entries = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root, name)
            with contextlib.suppress(OSError):
                info = path.lstat()
                entries[str(path.relative_to(folder))] = (
                    stat.S_IFMT(info.st_mode),
                    info.st_size,
                    info.st_mtime_ns,
                )
    return entries


def file_problems(folder: Path, before: dict, argv: list[str], exit_code: int | None) -> list[str]:
    """Temporary files left, incomplete files written, promised outputs missing."""
    problems = []
    after = snapshot(folder)
    changed = [name for name, sig in after.items() if before.get(name) != sig]
    for name in changed:
        path = folder / name
        if TEMP_FILE.match(path.name):
            problems.append(f"temporary file left: {name}")
        elif stat.S_ISREG(after[name][0]):
            why = incomplete(path)
            if why:
                problems.append(f"incomplete file {name}: {why}")
        if path.name == "status.json" and stat.S_ISREG(after[name][0]):
            state = _status_state(path)
            if exit_code == 0 and state != "done":
                problems.append(f"exit 0 but {name} says {state!r}")
            if exit_code not in (0, None) and state == "running":
                problems.append(f"exit {exit_code} but {name} still says 'running'")
    if exit_code == 0:
        for option, value in outputs(argv):
            path = folder / value
            if not (path.exists() or path.is_symlink()):
                problems.append(f"exit 0 but {option} {value} was not written")
            elif path.is_dir() and not path.is_symlink():
                problems += _run_folder_problems(path, folder, changed)
    return problems


def _run_folder_problems(run: Path, folder: Path, checked: list[str]) -> list[str]:
    """A run folder after success: says "done", and holds no incomplete file (those written
    now were checked already)."""
    problems = []
    status = run / "status.json"
    name = str(status.relative_to(folder))
    if status.is_file() and name not in checked and _status_state(status) != "done":
        problems.append(f"exit 0 but {name} is not 'done'")
    for path in sorted(run.rglob("*")):
        name = str(path.relative_to(folder))
        if name not in checked and path.is_file() and not path.is_symlink():
            why = incomplete(path)
            if why:
                problems.append(
                    f"exit 0 but the run folder holds an incomplete file: {name} ({why})"
                )
    return problems


def outputs(argv: list[str]) -> list[tuple[str, str]]:
    """The paths an invocation is to write, as (option, value): its output options, and the
    run folder it resumes."""
    command = find_command(argv)
    if command is None:
        return []
    flags = {}
    for param in command.params:
        if isinstance(param, click.Option) and role(param) in (
            "out_file",
            "out_folder",
            "run_folder",
        ):
            flags |= dict.fromkeys(param.opts, param)
    found = []
    for i, arg in enumerate(argv[:-1]):
        if arg in flags and argv[i + 1]:
            found.append((arg, argv[i + 1]))
    return found


def incomplete(path: Path) -> str | None:
    """Why the file at ``path`` is not a whole file of the kind its suffix says, or None."""
    try:
        data = path.read_bytes()
    except OSError as err:
        return f"unreadable ({err.strerror})"
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            json.loads(data)
        elif suffix in (".yaml", ".yml"):
            yaml.safe_load(data)
        elif suffix == ".csv":
            rows = data.decode().splitlines()
            if not rows or not data.endswith(b"\n"):
                return "empty or cut off"
            if len({row.count(",") for row in rows if not row.startswith("#")}) > 1:
                return "rows with different numbers of columns"
        elif suffix == ".npz":
            with zipfile.ZipFile(path) as z:
                if z.testzip() is not None:
                    return "a member fails its CRC"
            with np.load(path, allow_pickle=False) as npz:
                for name in npz.files:
                    npz[name]
        elif suffix == ".png":
            if not (data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")):
                return "not a whole PNG"
        elif suffix == ".svg":
            ET.fromstring(data)
        elif suffix == ".pdf" and not (data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]):
            return "not a whole PDF"
    except Exception as err:  # any failure to read it back is the finding
        return f"{type(err).__name__}: {_first_line(str(err))}"
    return None


def _status_state(path: Path) -> Any:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc.get("state") if isinstance(doc, dict) else None


# -- where a problem comes from ------------------------------------------------------------


def _frame(tb) -> str | None:
    return _frame_of_stack(traceback.extract_tb(tb)) if tb is not None else None


def _frame_of_stack(frames) -> str | None:
    """The deepest frame inside the dynsys package and its caller there, as
    'dynsys/x.py:LINE (function) <- dynsys/y.py:LINE (function)'."""
    found = []
    for frame in reversed(frames):
        parts = Path(frame.filename).parts
        if "dynsys" in parts and "tests" not in parts and ".venv" not in parts:
            tail = Path(*parts[len(parts) - parts[::-1].index("dynsys") - 1 :])
            found.append(f"{tail}:{frame.lineno} ({frame.name})")
            if len(found) == 2:
                break
    return " <- ".join(found) or None


def find_command(argv: list[str]) -> click.Command | None:
    """The command ``argv`` runs (after any options of the group ``main``), or None."""
    command: click.Command = main
    for arg in argv:
        if isinstance(command, click.Group) and arg in command.commands:
            command = command.commands[arg]
        elif command is not main:
            break
    return None if command is main else command


def command_module(argv: list[str]) -> str:
    """The module that defines the command of ``argv``: 'dynsys/cli/commands.py (simulate)'."""
    command = find_command(argv)
    if command is None or command.callback is None:
        return "dynsys/cli/__init__.py"
    module = command.callback.__module__.replace(".", "/") + ".py"
    return f"{module} ({command.name})"


def _first_line(text: str) -> str:
    return _abbreviated(text.strip().splitlines()[0] if text.strip() else "", 300)


def _abbreviated(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else f"{text[:40]}...<{len(text)} characters>"


# -- findings over a whole fuzz run --------------------------------------------------------


def _example_line(outcome: Outcome) -> str:
    after = f"\n      after damaging {outcome.setup}" if outcome.setup else ""
    return f"    $ {outcome.command_line}  (exit {outcome.exit_code}){after}\n"


class Findings:
    """The violations of one fuzz run, grouped by where they arise, reported at its end."""

    def __init__(self, name: str, budget_s: float):
        self.name, self.budget_s = name, budget_s
        self.started = time.monotonic()
        self.examples = self.skipped = 0
        self.groups: dict[tuple[str, str], list[Outcome]] = {}

    def over_budget(self) -> bool:
        late = time.monotonic() - self.started > self.budget_s
        self.skipped += late
        return late

    def add(self, outcome: Outcome) -> None:
        self.examples += 1
        for where, what in outcome.problems:
            key = (where, re.sub(r"\d+", "N", what.split(": ")[0]))
            self.groups.setdefault(key, []).append(
                dataclasses.replace(outcome, problems=[(where, what)])
            )

    def report(self) -> str:
        by_module: dict[str, list[str]] = {}
        for (where, _), outcomes in sorted(self.groups.items()):
            first = outcomes[0]
            module = where.split(":")[0].split(" ")[0]
            by_module.setdefault(module, []).append(
                f"  {first.problems[0][1]}\n    at {where}; {len(outcomes)} example(s), e.g.\n"
                + "".join(_example_line(o) for o in outcomes[:2])
            )
        lines = [f"{self.name}: {len(self.groups)} kinds of violation in {self.examples} examples"]
        for module, items in by_module.items():
            lines.append(f"{module}:")
            lines += items
        return "\n".join(lines)

    def check(self) -> None:
        if not self.groups:
            return
        if os.environ.get("DYNSYS_FUZZ_REPORT"):
            with open(os.environ["DYNSYS_FUZZ_REPORT"], "a") as f:
                for (where, _), outcomes in self.groups.items():
                    for o in outcomes[:3]:
                        doc = {"test": self.name, "where": where, "what": o.problems[0][1]}
                        doc |= {"argv": o.argv, "exit": o.exit_code, "setup": o.setup}
                        doc["stderr"] = o.stderr[-500:]
                        f.write(json.dumps(doc) + "\n")
        pytest.fail(self.report(), pytrace=False)


def fuzz(
    name: str,
    strategy: st.SearchStrategy,
    body: Callable[[Any, Findings], None],
    *,
    examples: int,
    budget_s: float,
    randomize: bool = False,
    explicit: tuple = (),
) -> None:
    """Run ``body(example, findings)`` on the ``explicit`` examples, then on up to ``examples``
    drawn from ``strategy``, for at most about ``budget_s`` seconds; then fail with every
    violation found.  Without ``randomize`` the examples are the same on every run (CI)."""
    findings = Findings(name, budget_s)

    def run(example):
        if not findings.over_budget():
            body(example, findings)

    run = given(strategy)(run)
    for value in explicit:
        run = hypothesis.example(value)(run)
    run = settings(
        max_examples=examples,
        deadline=None,
        derandomize=not randomize,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )(run)
    run()
    findings.check()


def long_examples() -> int:
    return int(os.environ.get("DYNSYS_FUZZ_EXAMPLES", "2000"))


# -- values --------------------------------------------------------------------------------


def words(text: str) -> list[str]:
    return text.split()


JUNK = ["", " ", "-", "--", ",", "=", "\u200b", "\udcff", "a" * 5000]
JUNK += words("None null nan ｅｕｌｅｒ Ｋ é 1,,2 ../x -h")
"""Any option's value now and then: empty, blank, unicode, a lone surrogate (an argv that is
not UTF-8), 5,000 characters, option-like, ..."""
NUMBERS = words("""0 -0 1 -1 0.5 2 1e-320 5e-324 -1e-320 1e-300 1e-15 1e12 1e300 -1e300
    1.7976931348623157e308 1e309 inf -inf nan +inf 1_000 0x10 １ 1e .""")
INTEGERS = words("0 -1 1 2 3 2147483648 9223372036854775808 -9223372036854775809 1.5 1e3")
INTEGERS += ["１", "1" * 30, ""]
YAML_VALUES = words("1e300 .nan .inf -.inf -1 0 [] {} null ~ '1' true ｘ 0x1p3")
YAML_VALUES += ["[1, 2", "{a: 1}", "[1e300, -1e300]", "!!python/object/apply:os.system ['true']"]
YAML_VALUES += ["&a [*a]", "[" * 3000 + "]" * 3000, "x" * 100_000, "2" * 400]
"""Values of --set KEY=VALUE, read as YAML: out-of-range numbers, wrong types, unsafe tags,
a self-referencing alias, deep nesting, a 400-digit integer, a long string."""


def numbers() -> st.SearchStrategy[str]:
    """Number texts: tiny valid ones, or absurd ones (nothing merely slow, like 1e6 steps)."""
    reasonable = st.floats(-10, 10).filter(lambda x: x == 0 or abs(x) >= 1e-3).map(repr)
    return st.one_of(st.sampled_from(NUMBERS), reasonable)


def integers() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(INTEGERS), st.integers(-3, 6).map(str))


def comma_list(item: st.SearchStrategy[str], max_size: int = 4) -> st.SearchStrategy[str]:
    sep = st.sampled_from([",", ",", ", ", ",,", " , "])
    return st.tuples(st.lists(item, max_size=max_size), sep).map(lambda t: t[1].join(t[0]))


# -- options and their generators ----------------------------------------------------------

METAVAR_ROLES = {
    "NAME=VALUE": "assign",
    "NAME=LOW,HIGH": "range",
    "KEY=VALUE": "override",
    "V1,V2,...": "vector",
    "A,B": "pair",
    "I,J": "states",
    "I,J,...": "states",
    "M1,M2": "methods",
    "ADDRESS": "address",
    "SYSTEM": "system",
    "KIND": "plot_kind",
    "SYSTEM|MODEL": "target",
    "SYSTEM|MODEL|FILE": "target",
    "SYSTEM|FILE|CONFIG": "system",
    "MODEL": "model_file",
    "CONFIG": "config_file",
    "SIZE": "size",
    "N": "count",
}
NAME_ROLES = {
    "method": "method",
    "methods": "methods",
    "systems": "system",
    "name": "system",
    "kinds": "model_kind",
    "file": "config_file",
    "model_file": "model_file",
    "resume": "run_folder",
}
OUTPUT_NAMES = ("out", "plot")
"""Options that name a file or folder to write."""


def role(param: click.Parameter) -> str:
    """Which generator fits ``param``: from its type, then its metavar, then its name."""
    name, metavar = param.name or "", (param.metavar or "").upper()
    if isinstance(param, click.Option) and param.is_flag:
        return "flag"
    if isinstance(param.type, click.Choice):
        return "choice"
    if isinstance(param.type, click.types.FloatParamType):
        return "number"
    if isinstance(param.type, click.types.IntParamType):
        return "integer"
    if name in OUTPUT_NAMES:
        return "out_folder" if metavar == "DIR" else "out_file"
    if metavar in METAVAR_ROLES:
        return METAVAR_ROLES[metavar]
    return NAME_ROLES.get(name, "text")


def command_paths(group: click.Group = main, prefix: tuple[str, ...] = ()) -> dict:
    """Every command under ``group``, by its words: {('config', 'validate'): <Command>, ...}."""
    found = {}
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found |= command_paths(command, (*prefix, name))
        elif not command.hidden:
            found[(*prefix, name)] = command
    return found


CHEAP = {
    "t_end": "3",
    "levels": "2",
    "n_train": "4",
    "n_val": "2",
    "n_test": "2",
    "epochs": "3",
    "steps": "2",
    "n": "1",
    "seed": "0",
    "seeds": "0",
    "quiet": True,
    "systems": "exponential_decay",
    "kinds": "ngrc",
}
"""Option (by parameter name): a value that keeps an example small, added where the command
has the option, it applies, and it is not the one being fuzzed."""
EXPENSIVE = {("forecast", "systems"): ("exponential_decay",), ("forecast", "kinds"): ("ngrc",)}
"""Valid values restricted where any other valid value means minutes of fitting."""


@dataclasses.dataclass(frozen=True)
class Workdir:
    """The names of the files every example's folder holds (see :func:`prepare`)."""

    configs: tuple[str, ...] = ("tiny.yaml", "sweep.yaml", "user.yaml")
    models: tuple[str, ...] = ("model.npz", "run/model.npz")
    run: str = "run"
    bad_configs: tuple[str, ...] = (
        *words("missing.yaml adir afile.txt empty.yaml fifo.yaml broken.yaml binary.yaml"),
        *words("bomb.yaml deep.yaml link.yaml dangling.yaml loop.yaml sparse.yaml model.npz"),
        *words("/dev/zero /dev/null /proc/self/status"),
        "",
    )
    bad_models: tuple[str, ...] = (
        *words("missing.npz adir empty.npz fifo.npz truncated.npz tiny.yaml sparse.npz"),
        *words("/dev/zero /dev/null /proc/self/status afile.txt"),
        "",
    )
    bad_folders: tuple[str, ...] = (
        *words("adir missing afile.txt fifo.yaml run/trajectories /proc/self"),
        "",
    )


FILES = Workdir()


def prepare(folder: Path, assets: dict[str, Path]) -> None:
    """Fill ``folder`` with the inputs of :class:`Workdir`: good files from ``assets``
    ('model', 'run' and the configs by name) and broken or special ones."""
    shutil.copy(assets["model"], folder / "model.npz")
    shutil.copytree(assets["run"], folder / "run", symlinks=True)
    for name in FILES.configs:
        shutil.copy(assets[name], folder / name)
    (folder / "adir").mkdir()
    (folder / "afile.txt").write_text("hello\n")
    (folder / "empty.yaml").write_text("")
    (folder / "empty.npz").write_bytes(b"")
    for name in ("fifo.yaml", "fifo.npz", "fifo.csv"):
        os.mkfifo(folder / name)
    (folder / "broken.yaml").write_text("name: x\nsystem: [1, 2\n")
    (folder / "binary.yaml").write_bytes(b"\xff\xfe\x00name: \x80\x81\n")
    (folder / "bomb.yaml").write_text(_billion_laughs())
    (folder / "deep.yaml").write_text("name: " + "[" * 5000 + "]" * 5000 + "\n")
    (folder / "link.yaml").symlink_to("tiny.yaml")
    (folder / "dangling.yaml").symlink_to("nowhere.yaml")
    (folder / "loop.yaml").symlink_to("loop.yaml")
    model = (folder / "model.npz").read_bytes()
    (folder / "truncated.npz").write_bytes(model[: len(model) // 2])
    for name in ("sparse.yaml", "sparse.npz"):  # 1 GiB that takes no disk
        with open(folder / name, "wb") as f:
            f.truncate(2**30)


def _billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + f"\nname: *a{levels}\n"


def value_strategy(path: tuple[str, ...], param: click.Parameter, fuzzed: bool, context: dict):
    """Texts for ``param``: valid ones only, or (``fuzzed``) valid ones mixed with edge cases."""
    from dynsys import plots, steppers
    from dynsys.experiments.config import config_schema
    from dynsys.rnn.kinds import MODEL_KINDS

    kind = role(param)
    restricted = EXPENSIVE.get((path[0], param.name))
    systems = list(restricted or BUILT_IN)
    methods = [*steppers.METHODS, "map"]
    if kind == "choice":
        valid = st.sampled_from(list(param.type.choices))
        edge = st.sampled_from(["", "nope", *(c.upper() for c in param.type.choices)])
    elif kind == "number":
        valid, edge = numbers(), numbers()
    elif kind == "integer":
        valid, edge = st.integers(0, 4).map(str), integers()
    elif kind == "system":
        valid = st.sampled_from(systems)
        edge = st.sampled_from(["nope", "Lorenz", "lorenz ", "ｌｏｒｅｎｚ", "user_x", "../x"])
    elif kind == "model_kind":
        valid = st.sampled_from(list(restricted or MODEL_KINDS))
        edge = st.sampled_from(["nope", "JORDAN", "", "ｊｏｒｄａｎ"])
    elif kind == "plot_kind":
        valid = st.sampled_from(list(plots.PLOT_KINDS))
        edge = st.sampled_from(["nope", "phase", "TRAINING", ""])
    elif kind == "target":
        model_plot = context.get("plot_kind") in _model_plot_kinds()
        valid = st.sampled_from(list(FILES.models) if model_plot else systems)
        edge = st.sampled_from([*FILES.bad_models, *systems])
    elif kind == "method":
        valid = st.sampled_from(methods)
        edge = st.sampled_from(["nope", "RK4", "rk4,euler", "ｅｕｌｅｒ"])
    elif kind == "methods":
        valid = st.lists(st.sampled_from(methods), min_size=1, max_size=3).map(",".join)
        edge = comma_list(st.sampled_from([*methods, "nope", "", "ＲＫ４", "map"]))
    elif kind == "assign":
        names = sorted({p.name for cls in BUILT_IN.values() for p in cls.parameters})
        name = st.one_of(st.sampled_from(names), st.sampled_from(["", "nope", "Ｋ", " k"]))
        valid = st.tuples(st.sampled_from(names), st.sampled_from(["0.5", "1", "2"]))
        valid = valid.map("=".join)
        edge = st.tuples(name, st.sampled_from(["=", "", "=="]), comma_list(numbers(), 3))
        edge = edge.map("".join)
    elif kind == "range":
        names = sorted({p.name for cls in BUILT_IN.values() for p in cls.parameters})
        valid = st.sampled_from(names).map(lambda n: f"{n}=0.2,1")
        edge = st.tuples(st.sampled_from([*names, "", "nope"]), comma_list(numbers(), 3))
        edge = edge.map("=".join)
    elif kind == "vector":
        valid = st.lists(st.sampled_from(["0", "1", "0.5"]), min_size=1, max_size=3).map(",".join)
        edge = comma_list(numbers(), 5)
    elif kind == "pair":
        valid = st.sampled_from(["-2,2", "0,1", "-1,3"])
        edge = comma_list(numbers(), 3)
    elif kind == "states":
        names = sorted({s for cls in BUILT_IN.values() for s in cls.states})
        valid = st.sampled_from(["0,1", "0"])
        edge = comma_list(st.sampled_from([*names, "0", "1", "9", "-1", "", "x"]), 3)
    elif kind == "override":
        keys = schema_paths(config_schema())
        valid = st.sampled_from(["simulation.dt=0.1", "seed=1", "simulation.t_end=1"])
        key = st.one_of(st.sampled_from(keys), st.sampled_from(["", "a..b", "nope", "seed."]))
        edge = st.tuples(key, st.one_of(st.sampled_from(YAML_VALUES), numbers())).map("=".join)
    elif kind == "config_file":
        valid = st.sampled_from(list(FILES.configs))
        edge = st.sampled_from(list(FILES.bad_configs))
    elif kind == "model_file":
        valid = st.sampled_from(list(FILES.models))
        edge = st.sampled_from(list(FILES.bad_models))
    elif kind == "run_folder":
        valid = st.just(FILES.run)
        edge = st.sampled_from(list(FILES.bad_folders))
    elif kind == "out_file":
        valid, edge = _out_files(path)
    elif kind == "out_folder":
        valid = st.sampled_from(["newrun", "adir/newrun"])
        edge = st.sampled_from(
            ["run", "adir", "afile.txt", "missing/deeper/run", "/proc/self/run", "fifo.yaml", ""]
        )
    elif kind == "size":
        valid = st.sampled_from(["8GiB", "500MB", "2e9", "1GiB"])
        edge = st.sampled_from([*words("0 -1 1e400 nan inf 1PiB 12 ｋ GiB 1e-320 1.5.5GB"), ""])
    elif kind == "count":
        valid = st.sampled_from(["1e9", "1000000"])
        edge = st.one_of(numbers(), integers())
    elif kind == "address":
        valid = st.just("tcp://127.0.0.1:1")
        edge = st.sampled_from(["", "nope", "tcp://[::1", "tcp://127.0.0.1:99999"])
    else:  # "text": an option no generator knows yet
        valid = st.sampled_from(["x", "1"])
        edge = st.sampled_from(JUNK)
    if not fuzzed:
        return valid
    return st.one_of(valid, valid, edge, st.sampled_from(JUNK))  # valid half the time


def _out_files(path: tuple[str, ...]):
    suffixes = {"simulate": ".csv", "train": ".npz", "forecast": ".json"}
    good = suffixes.get(path[0], ".png")
    valid = st.sampled_from([f"out{good}", f"adir/out{good}"])
    suffix = st.sampled_from([good, ".csv", ".npz", ".json", ".png", ".svg", ".pdf", ".txt", ""])
    stem = st.sampled_from(["out", "ｏｕｔ", "o u t", "a" * 300, ".hidden", "out.PNG"])
    folder = st.sampled_from(["", "adir/", "missing/", "afile.txt/", "/proc/self/", "run/"])
    built = st.tuples(folder, stem, suffix).map("".join)
    existing = st.sampled_from(["adir", "fifo.csv", "afile.txt", "model.npz", "", "run"])
    return valid, st.one_of(built, existing)


def _model_plot_kinds() -> tuple[str, ...]:
    from dynsys.cli.plot_commands import MODEL_KINDS

    return MODEL_KINDS


def schema_paths(schema: dict, depth: int = 2) -> list[str]:
    """The dotted paths of a JSON Schema's properties, to ``depth`` levels."""
    defs = schema.get("$defs", {})

    def resolve(node: dict) -> dict:
        for option in [node, *node.get("anyOf", [])]:
            ref = option.get("$ref")
            if ref:
                return defs.get(ref.split("/")[-1], {})
            if "properties" in option:
                return option
        return node

    paths = []

    def walk(node: dict, prefix: str, level: int) -> None:
        for key, sub in resolve(node).get("properties", {}).items():
            paths.append(prefix + key)
            if level < depth:
                walk(sub, f"{prefix}{key}.", level + 1)

    walk(schema, "", 1)
    return sorted(paths)


def applies(path: tuple[str, ...], param: click.Parameter, context: dict) -> bool:
    """Whether ``param`` applies given the values drawn so far (plot KIND, train --model)."""
    if path == ("plot",):
        from dynsys.cli.plot_commands import ONLY_FOR

        kind = context.get("plot_kind")
        return param.name not in ONLY_FOR or kind in ONLY_FOR[param.name]
    if path == ("train",):
        from dynsys.rnn.kinds import MODEL_KINDS
        from dynsys.rnn.settings import option_fields

        fields = option_fields()
        cls = MODEL_KINDS.get(context.get("choice:kind", "jordan"))
        if param.name not in fields or cls is None:
            return True
        section, field = fields[param.name]
        if section == "model":
            return field.name in {f.name for f in dataclasses.fields(cls.Settings)}
        return section != "training" or cls.fitting == "gradient"
    return True


@st.composite
def invocations(draw, path: tuple[str, ...], command: click.Command) -> list[str]:
    """An argv for ``command``: one to three of its parameters fuzzed, the arguments not
    fuzzed valid, and :data:`CHEAP` values for the sizes not fuzzed."""
    params = [p for p in command.params if not getattr(p, "hidden", False)]
    fuzzed = draw(st.sets(st.sampled_from(params), min_size=1, max_size=3)) if params else set()
    context: dict[str, Any] = {}
    positional: list[str] = []
    options: list[str] = []
    for param in params:  # arguments first, in order: a later one may depend on an earlier one
        if not isinstance(param, click.Argument):
            continue
        if param in fuzzed and draw(st.integers(0, 5)) == 5:  # (hypothesis leans to 0)
            continue  # left out
        value = draw(value_strategy(path, param, param in fuzzed, context))
        context[role(param)] = value
        positional.append(value)
    for param in params:  # choices next, so that options can ask whether they apply
        if isinstance(param, click.Option) and role(param) == "choice" and param in fuzzed:
            context[f"choice:{param.name}"] = draw(value_strategy(path, param, True, context))
    for param in params:
        if isinstance(param, click.Argument):
            continue
        fits = applies(path, param, context)
        if param in fuzzed and (fits or draw(st.integers(0, 4)) == 4):
            options += draw(_option_values(path, param, context))
        elif param.required:
            options += [param.opts[-1], draw(value_strategy(path, param, False, context))]
        elif param.name in CHEAP and fits:
            cheap = CHEAP[param.name]
            options += [param.opts[-1]] if cheap is True else [param.opts[-1], str(cheap)]
    group = [p for p in main.params if p.expose_value and not getattr(p, "hidden", False)]
    ahead: list[str] = []  # an option of the group itself (dynsys --max-steps N CMD ...)
    if group and draw(st.integers(0, 3)) == 3:
        ahead = draw(_option_values(path, draw(st.sampled_from(group)), context))
    return [*ahead, *path, *positional, *options]


@st.composite
def _option_values(draw, path, param: click.Option, context: dict) -> list[str]:
    flag = next((o for o in param.opts if o.startswith("--")), param.opts[0])
    if param.is_flag:
        choices = [[], [flag], *([o] for o in param.secondary_opts)]
        return draw(st.sampled_from(choices))
    if f"choice:{param.name}" in context:
        return [flag, context[f"choice:{param.name}"]]
    values = st.lists(value_strategy(path, param, True, context), min_size=1, max_size=3)
    texts = draw(values) if param.multiple else [draw(value_strategy(path, param, True, context))]
    return [item for text in texts for item in (flag, text)]


# -- mutations of JSON documents and files -------------------------------------------------

DEEP = "__deep__"


def json_paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """The path of every value in ``doc`` (dict keys and list indices), the root first."""
    paths = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            paths += json_paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc[:5]):
            paths += json_paths(value, (*prefix, i))
    return paths


REPLACEMENTS = [None, True, 0, -1, 1.5, 10**400, 1e308, float("inf"), float("nan"), -1e300]
REPLACEMENTS += ["", "ｘ", "x" * 100_000, [], {}, [1, "a", None], {"__unknown__": 1}, DEEP]
"""What a value may become: other types, a 400-digit integer, non-finite numbers, a long
string, and DEEP (replaced by 50,000 nested lists when the text is written)."""


@st.composite
def mutated(draw, doc: Any, max_changes: int = 3) -> tuple[Any, str]:
    """``doc`` (a JSON-like tree) with 1 to ``max_changes`` values deleted or replaced, and
    the changes in words ('del dataset.h; training.epochs = -1')."""
    doc = copy.deepcopy(doc)
    changes = []
    for _ in range(draw(st.integers(1, max_changes))):
        where = draw(st.sampled_from(json_paths(doc)))
        new = draw(st.sampled_from(REPLACEMENTS))
        name = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in where)[1:] or "."
        if not where:
            doc = new
            changes.append(f". = {_abbreviated(repr(new), 40)}")
            continue
        parent = doc
        for key in where[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[where[-1]]
            changes.append(f"del {name}")
        else:
            parent[where[-1]] = new
            changes.append(f"{name} = {_abbreviated(repr(new), 40)}")
    return doc, "; ".join(changes)


def json_text(doc: Any) -> str:
    """``doc`` as JSON text (NaN and Infinity as Python writes them), DEEP made deep."""
    deep = "[" * 50_000 + "]" * 50_000
    return json.dumps(doc).replace(f'"{DEEP}"', deep)


def yaml_text(doc: Any) -> str:
    deep = "[" * 5_000 + "]" * 5_000
    try:
        text = yaml.safe_dump(doc, sort_keys=False)
    except (yaml.YAMLError, RecursionError):
        text = json_text(doc)
    return text.replace(DEEP, deep)


@st.composite
def file_damage(draw, name: str) -> Callable[[Path], None]:
    """A way to damage the file ``name`` of a folder as a whole: cut it, empty it, swap it for
    a folder, a FIFO, a link, garbage or a 1 GiB sparse file, or remove it; call it with the
    folder.  Its ``__name__`` says what it does."""
    how = draw(
        st.sampled_from(["cut", "empty", "folder", "fifo", "link", "garbage", "sparse", "remove"])
    )
    cut = draw(st.floats(0.0, 1.0))
    garbage = draw(st.binary(min_size=1, max_size=200))

    def damage(folder: Path) -> None:
        path = folder / name
        data = path.read_bytes()
        if how in ("folder", "fifo", "link", "remove"):
            path.unlink()
        if how == "cut":
            path.write_bytes(data[: int(len(data) * cut)])
        elif how == "empty":
            path.write_bytes(b"")
        elif how == "folder":
            path.mkdir()
        elif how == "fifo":
            os.mkfifo(path)
        elif how == "link":
            path.symlink_to("/etc/hostname")
        elif how == "garbage":
            path.write_bytes(garbage)
        elif how == "sparse":
            with open(path, "wb") as f:
                f.truncate(2**30)

    damage.__name__ = f"{how} {name}" + (f" at {cut:.2f}" if how == "cut" else "")
    return damage


def lying_npy(shape: tuple[int, ...]) -> bytes:
    """An .npy member whose header claims ``shape`` but which holds 8 bytes of data."""
    header = repr({"descr": "<f8", "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 8
