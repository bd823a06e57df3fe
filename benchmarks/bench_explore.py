"""The explorer (``dynsys explore``): how fast the page redraws, and how the server holds up.

Two sections, each with verdict lines (PASS/FAIL, the measured number and the bound):

1. page: in headless Chromium, van der Pol with 20 trajectories of 2,000 RK4 steps each
   (t_end / h = 2000) and the vector field.  After a mouse click in the plane (which adds the
   20th trajectory) and after a parameter slider moves one step (which recomputes all 20 and
   the field), the time until the new picture is drawn: first the one with the field and the
   stepper's runs (the page's ``window.explorer.lastRunsLatency``, from the input event's time
   stamp to the end of drawing; bound 150 ms), then the complete one with the solve_ivp orbits
   and the stability panel, which the page asks for after it (``explorer.lastLatency``); each
   also as wall time from the Selenium action, with WebDriver's own time shown apart.  Medians
   over ``--repeats`` (20).
2. sessions: ``--sessions`` (50) threads on loopback, each doing what one page does (the page
   and its static files, info, the field; then per round two clicks that each post the
   trajectory of its new start, a slider move that posts the field, the runs of all its starts
   and their solve_ivp orbits at a new parameter value, and the stability panel) for
   ``--rounds`` rounds against one server process; every round uses parameter values never
   asked before, so every request misses the server's caches.  Reports errors (bound: 0),
   request latency percentiles per endpoint, and the server's resident memory (VmRSS) before,
   after the rounds, and after as many rounds again by a fresh set of sessions (bound: the
   second batch adds <= 32 MiB: the caches are bounded).

Usage::

    python benchmarks/bench_explore.py [--only page|sessions] [--repeats 20] [--sessions 50]
        [--rounds 2] [--json FILE]

Needs Debian's chromium and chromium-driver and selenium for section 1 (``pip install -e
'.[test]'``).  See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dynsys.tables import table as text_table

SYSTEM = "van_der_pol"
LATENCY_FLOOR_MS = 150.0
RSS_GROWTH_FLOOR_MIB = 32.0
TRAJECTORIES = 20
STEPS = 2000
STATIC = ("/", "/static/explore.js", "/static/explore.css")
REFERENCE_KEYS = ("params", "starts", "dt", "t_end", "backward")


# -- the server, in a process of its own (so that its memory is its own) --------------------


def serve_forever(target: str) -> None:
    """Start the explorer's server on a free loopback port, print its URL, serve until stdin
    closes."""
    from dynsys.explore.server import start_server

    server, url = start_server(target, port=0)
    print(url, flush=True)
    sys.stdin.read()
    server.shutdown()


@dataclass
class Server:
    process: subprocess.Popen
    url: str

    def rss_mib(self) -> float:
        """Resident memory of the server process (VmRSS), MiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS in /proc")

    def stop(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start(target: str = SYSTEM) -> Server:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", target],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    url = process.stdout.readline().strip().rstrip("/")
    if not url.startswith("http"):
        process.kill()
        raise SystemExit(f"the explorer's server did not start (said {url!r})")
    return Server(process, url)


def request(url: str, payload: dict[str, Any] | None = None) -> Any:
    """GET (no payload) or POST JSON; the decoded JSON (or the bytes of a static file)."""
    body = None if payload is None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"} if body else {}
    req = urllib.request.Request(url, data=body, headers=headers)
    with urllib.request.urlopen(req, timeout=120) as response:
        raw = response.read()
        kind = response.headers.get("Content-Type", "")
    return json.loads(raw) if "json" in kind else raw


# -- section 1: the page in headless Chromium -------------------------------------------------


def chrome() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        raise SystemExit("no chromium/chromedriver: install Debian's chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument("--window-size=1400,1000")
    return webdriver.Chrome(service=Service(driver), options=options)


WAIT_DRAWN = """
const [counter, before, runs, done] = arguments;
const ok = () => explorer[counter] > before && explorer.data.trajectories
    && explorer.data.trajectories.runs.length == runs;
const latency = counter === "draws" ? "lastLatency" : "lastRunsLatency";
(function poll() { ok() ? done(explorer[latency]) : setTimeout(poll, 1); })();
"""


def wait_drawn(driver: Any, before: int, runs: int, counter: str = "draws") -> float:
    """Block until the page has redrawn with ``runs`` trajectories, every answer in
    (``counter`` "draws"), or with the field and the stepper's runs (``"runDraws"``); the
    page's latency of that drawing (ms)."""
    return driver.execute_async_script(WAIT_DRAWN, counter, before, runs)


def timed_action(driver: Any, act: Any, runs: int) -> tuple[float, ...]:
    """Do ``act()`` and wait for both drawings it causes: the page's latency and the wall time
    from the Selenium action of the picture with the field and the runs, then of the
    complete one (the solve_ivp reference and the stability panel in); and the time the
    action call itself took (WebDriver's share of the wall times)."""
    before = driver.execute_script("return [explorer.runDraws, explorer.draws]")
    t0 = time.perf_counter()
    act()
    act_ms = (time.perf_counter() - t0) * 1e3
    runs_latency = wait_drawn(driver, before[0], runs, "runDraws")
    runs_wall = (time.perf_counter() - t0) * 1e3
    latency = wait_drawn(driver, before[1], runs)
    wall = (time.perf_counter() - t0) * 1e3
    return float(runs_latency), runs_wall, float(latency), wall, act_ms


def script_round_trip(driver: Any, repeats: int) -> list[float]:
    """Wall times (ms) of a WebDriver script call that answers at once."""
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        driver.execute_async_script("arguments[0](0)")
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def grid_points(info: dict[str, Any], n: int) -> list[tuple[float, float]]:
    """``n`` distinct points spread over the inner part of the plane."""
    (x0, x1), (y0, y1) = info["xlim"], info["ylim"]
    k = int(np.ceil(np.sqrt(n)))
    xs = np.linspace(x0, x1, k + 2)[1:-1]
    ys = np.linspace(y0, y1, k + 2)[1:-1]
    return [(float(x), float(y)) for x in xs for y in ys][:n]


@dataclass
class PageFigures:
    steps: int
    dt: float
    click: list[tuple[float, ...]] = field(default_factory=list)
    slider: list[tuple[float, ...]] = field(default_factory=list)
    """Per repeat (timed_action): runs picture latency and wall, complete latency and wall,
    the action call's own time."""
    round_trip_ms: list[float] = field(default_factory=list)


def page_section(repeats: int) -> PageFigures:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    server = start()
    driver = chrome()
    driver.set_script_timeout(120)
    try:
        driver.get(server.url + "/")
        driver.execute_async_script(
            "const done = arguments[0];"
            "(function p() { window.explorer && explorer.draws >= 1 ? done() : "
            "setTimeout(p, 5); })();"
        )
        info = driver.execute_script("return explorer.info")
        t_end = float(driver.execute_script("return explorer.state.t_end"))
        driver.execute_script(
            "explorer.setMethod('rk4'); explorer.setDt(arguments[0]);", t_end / STEPS
        )
        dt = float(driver.execute_script("return explorer.state.dt"))
        figures = PageFigures(steps=round(t_end / dt), dt=dt)
        points = grid_points(info, TRAJECTORIES + 1)
        plane = driver.find_element(By.CSS_SELECTOR, "#plane")
        for r in range(repeats):
            driver.execute_script("explorer.clear()")
            # points moved a little each repeat (the clicked one too, below): no answer can come
            # from the server's cache
            for i, (x, y) in enumerate(points[: TRAJECTORIES - 1]):
                x, y = x + 1e-3 * r, y - 1e-3 * r
                before = driver.execute_script("return explorer.draws")
                driver.execute_script("explorer.clickAt(arguments[0], arguments[1], {})", x, y)
                wait_drawn(driver, before, i + 1)
            x, y = points[TRAJECTORIES - 1]
            dx, dy = pixel_offset(driver, x, y)
            dx, dy = dx + 2 * (r % 10), dy - 2 * (r // 10)  # a pixel not clicked before
            chain = ActionChains(driver, duration=0).move_to_element_with_offset(plane, dx, dy)
            figures.click.append(timed_action(driver, chain.click().perform, TRAJECTORIES))
        slider = driver.find_element(By.CSS_SELECTOR, "input[type=range][data-param=mu]")
        for _ in range(repeats):  # one way: every value is new to the server's cache
            step = lambda: slider.send_keys(Keys.ARROW_RIGHT)  # noqa: E731
            figures.slider.append(timed_action(driver, step, TRAJECTORIES))
        figures.round_trip_ms = script_round_trip(driver, repeats)
        return figures
    finally:
        driver.quit()
        server.stop()


def pixel_offset(driver: Any, x: float, y: float) -> tuple[int, int]:
    """Offset from the centre of ``#plane`` (CSS pixels) of the data point (x, y): through the
    page's axes box ``explorer.plotBox()`` when it has one, else the whole canvas (near enough
    for a click that only has to land in the plane)."""
    return tuple(
        driver.execute_script(
            """const [x, y] = arguments, s = explorer.state, c = document.querySelector('#plane');
            const a = typeof explorer.plotBox === 'function' ? explorer.plotBox()
                : {x0: 0, y0: 0, w: c.clientWidth, h: c.clientHeight};
            const r = c.getBoundingClientRect();
            const px = c.clientLeft + a.x0 + (x - s.xlim[0]) / (s.xlim[1] - s.xlim[0]) * a.w;
            const py = c.clientTop + a.y0 + (s.ylim[1] - y) / (s.ylim[1] - s.ylim[0]) * a.h;
            return [Math.round(px - r.width / 2), Math.round(py - r.height / 2)];""",
            x,
            y,
        )
    )


# -- section 2: many sessions against one server ---------------------------------------------


@dataclass
class SessionFigures:
    sessions: int
    rounds: int
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    latency_ms: dict[str, list[float]] = field(default_factory=dict)
    rss_mib: dict[str, float] = field(default_factory=dict)
    wall_s: dict[str, float] = field(default_factory=dict)


def one_session(
    url: str, index: int, rounds: int, batch: int, out: SessionFigures, lock: threading.Lock
) -> None:
    """What one page does, for ``rounds`` rounds; parameter values unique to (batch, index,
    round), so that none is served from a cache."""
    rng = np.random.default_rng([batch, index])
    timings: list[tuple[str, float]] = []
    errors: list[str] = []

    def call(name: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        t0 = time.perf_counter()
        try:
            result = request(url + path, payload)
        except (urllib.error.URLError, OSError, ValueError) as error:
            errors.append(f"{name}: {error}")
            return None
        finally:
            timings.append((name, (time.perf_counter() - t0) * 1e3))
        return result

    for path in STATIC:
        call("static", path)
    info = call("info", "/api/info")
    if info is None:
        with lock:
            out.errors.extend(errors)
        return
    (x0, x1), (y0, y1) = info["xlim"], info["ylim"]
    view = {
        "xlim": info["xlim"],
        "ylim": info["ylim"],
        "plane": info["plane"],
        "others": info["others"],
        "grid": min(25, info["limits"]["max_grid"]),
        "t": 0.0,
    }
    params = {k: v["value"] for k, v in info["system"]["params"].items()}
    call("field", "/api/field", {"params": params, **view})
    starts: list[list[float]] = []
    settings = {
        "method": info["method"],
        "dt": info["dt"],
        "t_end": info["t_end"],
        "backward": False,
        "reference": True,
    }
    for r in range(rounds):
        for _ in range(2):  # two clicks
            starts.append([float(rng.uniform(x0, x1)), float(rng.uniform(y0, y1))])
            call(
                "trajectories",
                "/api/trajectories",
                {"params": params, "starts": starts[-1:], **settings},
            )
        # a slider move: every parameter to a value no session asked for before
        step = 1e-4 * ((batch * 10_000 + index) * 100 + r + 1)
        params = {k: v["value"] * (1 + step) + step for k, v in info["system"]["params"].items()}
        call("field", "/api/field", {"params": params, **view})
        whole = {"params": params, "starts": starts, **settings, "reference": False}
        call("trajectories", "/api/trajectories", whole)
        call("reference", "/api/reference", {k: whole[k] for k in REFERENCE_KEYS})
        call(
            "stability",
            "/api/stability",
            {"method": info["method"], "dt": info["dt"], "params": params, "point": starts[-1]},
        )
    with lock:
        out.requests += len(timings)
        out.errors.extend(errors)
        for name, ms in timings:
            out.latency_ms.setdefault(name, []).append(ms)


def run_sessions(url: str, sessions: int, rounds: int, batch: int, out: SessionFigures) -> float:
    lock = threading.Lock()
    threads = [
        threading.Thread(target=one_session, args=(url, i, rounds, batch, out, lock))
        for i in range(sessions)
    ]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def sessions_section(sessions: int, rounds: int) -> SessionFigures:
    server = start()
    out = SessionFigures(sessions, rounds)
    try:
        request(server.url + "/api/info")
        out.rss_mib["before"] = server.rss_mib()
        out.wall_s["first batch"] = run_sessions(server.url, sessions, rounds, 0, out)
        out.rss_mib[f"after {rounds} rounds"] = server.rss_mib()
        out.wall_s["second batch"] = run_sessions(server.url, sessions, rounds, 1, out)
        out.rss_mib[f"after {2 * rounds} rounds"] = server.rss_mib()
    finally:
        server.stop()
    return out


# -- report ----------------------------------------------------------------------------------


def table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    """Print ``title`` and a plain-text table of ``rows`` (dynsys.tables.table)."""
    print(f"\n{title}")
    print(text_table(header, [[str(c) for c in row] for row in rows]))


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report_page(f: PageFigures) -> bool:
    """The table of the page's figures; the bound applies to the page's own latency of the
    picture with the field and the runs (the wall times add WebDriver's own time, shown
    apart; the complete picture adds the solve_ivp reference, asked for after the runs)."""
    columns = (
        ("field + runs: explorer.lastRunsLatency", True),
        ("field + runs: wall, action to redraw", False),
        ("complete: explorer.lastLatency", False),
        ("complete: wall, action to redraw", False),
        ("WebDriver: the action call alone", False),
    )
    out, ok = [], True
    for action, repeats in (("click", f.click), ("slider", f.slider)):
        for c, (column, bound) in enumerate(columns):
            values = [r[c] for r in repeats]
            median = statistics.median(values)
            ok &= median <= LATENCY_FLOOR_MS or not bound
            out.append(
                [
                    f"{action}, {column}",
                    f"{median:.1f}",
                    f"{min(values):.1f}",
                    f"{max(values):.1f}",
                    f"<= {LATENCY_FLOOR_MS:.0f}" if bound else "",
                    verdict(median <= LATENCY_FLOOR_MS) if bound else "",
                ]
            )
    trip = f.round_trip_ms
    out.append(
        [
            "WebDriver: a script call that answers at once",
            f"{statistics.median(trip):.1f}",
            f"{min(trip):.1f}",
            f"{max(trip):.1f}",
            "",
            "",
        ]
    )
    table(
        f"page: {TRAJECTORIES} trajectories x {f.steps} rk4 steps (h = {f.dt:.4g}) + the field, "
        f"headless Chromium, {len(f.click)} repeats (ms); field + runs: the first picture "
        "with the field and the 20 runs, from the input event; complete: with the solve_ivp "
        "reference and the stability panel too",
        ["redraw after", "median", "min", "max", "floor", "verdict"],
        out,
    )
    return ok


def report_sessions(f: SessionFigures) -> bool:
    rows = []
    for name, values in sorted(f.latency_ms.items()):
        p50, p90, p99 = np.percentile(values, [50, 90, 99])
        rows.append(
            [name, len(values), f"{p50:.1f}", f"{p90:.1f}", f"{p99:.1f}", f"{max(values):.1f}"]
        )
    table(
        f"sessions: {f.sessions} concurrent page sessions x {f.rounds} rounds, twice "
        f"({f.wall_s['first batch']:.1f} s, {f.wall_s['second batch']:.1f} s): request latency "
        "(ms)",
        ["endpoint", "requests", "p50", "p90", "p99", "max"],
        rows,
    )
    rss = list(f.rss_mib.items())
    growth = rss[2][1] - rss[1][1]
    errors_ok, rss_ok = not f.errors, growth <= RSS_GROWTH_FLOOR_MIB
    table(
        "sessions: verdicts",
        ["figure", "value", "floor", "verdict"],
        [
            ["errors", f"{len(f.errors)} of {f.requests}", "0", verdict(errors_ok)],
            *[[f"server RSS {when} (MiB)", f"{v:.1f}", "", ""] for when, v in rss],
            [
                "RSS growth over the second batch (MiB)",
                f"{growth:.1f}",
                f"<= {RSS_GROWTH_FLOOR_MIB:.0f}",
                verdict(rss_ok),
            ],
        ],
    )
    for error in f.errors[:5]:
        print(f"  error: {error}")
    return errors_ok and rss_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("page", "sessions"))
    parser.add_argument("--repeats", type=int, default=20, help="timed redraws of each kind")
    parser.add_argument("--sessions", type=int, default=50, help="concurrent page sessions")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each session")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # internal: the server process
    args = parser.parse_args(argv)
    if args.serve:
        serve_forever(args.serve)
        return 0
    print("dynsys explorer benchmark")
    print(f"  cores: {os.cpu_count()}; load average at start: {os.getloadavg()[0]:.2f}")
    ok, figures = True, {}
    if args.only in (None, "page"):
        page = page_section(args.repeats)
        ok &= report_page(page)
        figures["page"] = asdict(page)
    if args.only in (None, "sessions"):
        sessions = sessions_section(args.sessions, args.rounds)
        ok &= report_sessions(sessions)
        figures["sessions"] = asdict(sessions)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}; overall: {verdict(ok)}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
