"""The explorer's page in a real browser: headless Chromium driven by Selenium.

The server runs in this process (``dynsys.explore.server.start_server``), the page talks to it
over loopback, and every number the page drew is compared with what dynsys computes directly.
Chromium runs with a dead proxy and a host resolver that fails every name but 127.0.0.1, so a
page that fetched anything from the network would fail to load or leave a request in the log.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

NO_BROWSER = (
    "no chromium/chromedriver: install Debian's chromium chromium-driver; "
    "the explorer's browser tests did not run"
)
webdriver = pytest.importorskip("selenium.webdriver", reason=f"no selenium; {NO_BROWSER}")
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from dynsys import simulate  # noqa: E402
from dynsys.explore import api  # noqa: E402
from dynsys.systems import get_system  # noqa: E402
from dynsys.systems.classic import VanDerPol  # noqa: E402

SYSTEM = "van_der_pol"
TIMEOUT = 15.0  # s: the longest a test waits for the page (a slow shared machine)
OFFLINE = (
    "--proxy-server=http://127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)


def browser_paths() -> tuple[str, str] | None:
    """(chromium, chromedriver) found on PATH or in /usr/bin, or None."""
    browser = next(
        (
            p
            for name in ("chromium", "chromium-browser", "google-chrome")
            if (p := shutil.which(name) or shutil.which(name, path="/usr/bin"))
        ),
        None,
    )
    driver = shutil.which("chromedriver") or shutil.which("chromedriver", path="/usr/bin")
    return (browser, driver) if browser and driver else None


def start_chrome(downloads: str) -> Any:
    """Headless Chromium, offline but for loopback, logging the console and the network, saving
    downloads to ``downloads``; the driver is the local chromedriver (never downloaded)."""
    paths = browser_paths()
    if paths is None:
        pytest.skip(NO_BROWSER)
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        "--safebrowsing-disable-download-protection",
        *OFFLINE,
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": downloads,
            "download.prompt_for_download": False,
            "safebrowsing.enabled": False,  # no check of a download over the (absent) network
        },
    )
    driver = webdriver.Chrome(service=Service(paths[1]), options=options)
    driver.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads}
    )
    return driver


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def downloads() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="dynsys-explore-downloads-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def chrome(downloads: Path) -> Iterator[Any]:
    if browser_paths() is None:
        pytest.skip(NO_BROWSER)
    driver = start_chrome(str(downloads))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def serve() -> Iterator[Callable[[str], str]]:
    """``serve(target) -> url``: one server per target, started on first use, in this process."""
    from dynsys.explore.server import start_server

    servers: dict[str, tuple[Any, str]] = {}

    def _serve(target: str) -> str:
        if target not in servers:
            servers[target] = start_server(target, port=0)
        return servers[target][1].rstrip("/")

    yield _serve
    for server, _ in servers.values():
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small model fitted by ``dynsys train`` (a few epochs: the page only has to draw it)."""
    from click.testing import CliRunner

    from dynsys.cli import main

    path = tmp_path_factory.mktemp("model") / "model.npz"
    args = ["train", "driven_oscillator", "--model", "jordan", "--n-train", "8", "--n-test", "6"]
    args += ["--t-end", "5", "--epochs", "5", "--quiet", "--out", str(path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def page(chrome: Any, serve: Callable[[str], str]) -> Callable[[str], str]:
    """``page(target) -> url``: the page of ``target`` loaded afresh and drawn once."""

    def _open(target: str = SYSTEM) -> str:
        url = serve(target)
        chrome.get_log("browser")  # forget the previous page's console
        chrome.get_log("performance")
        chrome.get(url + "/")
        wait_for(chrome, "window.explorer && explorer.draws >= 1 && explorer.data.field")
        return url

    return _open


# -- helpers ---------------------------------------------------------------------------------


def js(driver: Any, expression: str, *args: Any) -> Any:
    return driver.execute_script(f"return ({expression});", *args)


def wait_for(driver: Any, expression: str, timeout: float = TIMEOUT) -> Any:
    """The value of the JavaScript ``expression`` once it is truthy (fails after ``timeout``)."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(
            lambda d: js(d, expression)
        )
    except TimeoutException:
        status = js(driver, "(document.querySelector('#status') || {}).textContent")
        pytest.fail(f"the page never got {expression!r} (status: {status!r})")


def until(check: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    """Call ``check`` until it returns without AssertionError; its value (the last error after
    ``timeout``): for a page that redraws as each of its responses arrives."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def draws(driver: Any) -> int:
    return js(driver, "explorer.draws")


def drawn_after(driver: Any, before: int) -> None:
    """Wait for a complete redraw (no request left in flight) after the count ``before``."""
    wait_for(driver, f"explorer.draws > {before}")


def state(driver: Any) -> dict[str, Any]:
    return js(driver, "JSON.parse(JSON.stringify(explorer.state))")


def data(driver: Any, name: str) -> Any:
    return js(driver, f"JSON.parse(JSON.stringify(explorer.data.{name} || null))")


def runs(driver: Any) -> list[dict[str, Any]]:
    """The trajectories the page drew, one per start: t, states, start, backward, reference."""
    traj = data(driver, "trajectories")
    return [] if traj is None else traj["runs"]


def click_hook(driver: Any, x: float, y: float, shift: bool = False) -> None:
    """``explorer.clickAt`` (the path of a real click, in data coordinates); waits for the
    redraw."""
    before = draws(driver)
    js(driver, "explorer.clickAt(arguments[0], arguments[1], {shift: arguments[2]})", x, y, shift)
    drawn_after(driver, before)


RECORD_POINTER = """
const plane = document.querySelector('#plane');
if (!plane.dataset.recorded) {
    plane.dataset.recorded = '1';
    plane.addEventListener('pointerup', (e) => {
        window.lastPointer = {x: e.offsetX, y: e.offsetY};
    }, true);
}
window.lastPointer = null;
"""


def real_click(driver: Any, x: float, y: float, shift: bool = False) -> dict[str, Any]:
    """A mouse click (Selenium's ActionChains) at the pixel of the data point (x, y), placed
    by the axes box the page exposes (``explorer.plotBox()``: x0, y0, w, h in CSS pixels of the
    canvas's content); waits for the redraw.  Returns the data point under the pixel the
    browser reported (its offsetX, offsetY) and the data size of one CSS pixel."""
    if not js(driver, "typeof explorer.plotBox === 'function'"):
        pytest.fail("the page exposes no axes box: explorer.plotBox() -> {x0, y0, w, h}")
    driver.execute_script(RECORD_POINTER)
    box = js(
        driver,
        """(() => {
            const c = document.querySelector('#plane'), b = explorer.plotBox();
            const r = c.getBoundingClientRect();
            return {x0: b.x0, y0: b.y0, w: b.w, h: b.h, left: c.clientLeft, top: c.clientTop,
                    width: r.width, height: r.height};
        })()""",
    )
    s = state(driver)
    (x0, x1), (y0, y1) = s["xlim"], s["ylim"]
    # from the element's border box (Selenium's offsets are from its centre, whole pixels)
    px = box["left"] + box["x0"] + (x - x0) / (x1 - x0) * box["w"]
    py = box["top"] + box["y0"] + (y1 - y) / (y1 - y0) * box["h"]
    dx, dy = round(px - box["width"] / 2), round(py - box["height"] / 2)
    plane = driver.find_element(By.CSS_SELECTOR, "#plane")
    before = draws(driver)
    chain = ActionChains(driver, duration=0)
    if shift:
        chain.key_down(Keys.SHIFT)
    chain.move_to_element_with_offset(plane, dx, dy).click()
    if shift:
        chain.key_up(Keys.SHIFT)
    chain.perform()
    drawn_after(driver, before)
    hit = js(driver, "window.lastPointer")
    return {
        "pixel": (
            x0 + (hit["x"] - box["x0"]) / box["w"] * (x1 - x0),
            y1 - (hit["y"] - box["y0"]) / box["h"] * (y1 - y0),
        ),
        "width": (x1 - x0) / box["w"],
        "height": (y1 - y0) / box["h"],
    }


def assert_clicked(start: np.ndarray, asked: tuple[float, float], click: dict[str, Any]) -> None:
    """The start is the data point under the clicked pixel, and within one pixel's data
    width (and height) of the point asked for."""
    np.testing.assert_allclose(start, click["pixel"], rtol=0, atol=1e-9)
    assert abs(start[0] - asked[0]) <= click["width"], (start, asked, click)
    assert abs(start[1] - asked[1]) <= click["height"], (start, asked, click)


class BackwardVanDerPol(VanDerPol):
    """Van der Pol with time reversed: ds/dτ = -g(s), τ = -t."""

    name = "backward_van_der_pol"

    @staticmethod
    def vector_field(t, s, x, p) -> tuple:
        return tuple(-g for g in VanDerPol.vector_field(t, s, x, p))


def page_system(driver: Any, backward: bool = False) -> VanDerPol:
    """Van der Pol with the page's parameter values (time reversed when ``backward``)."""
    params = {k: float(v) for k, v in state(driver)["params"].items()}
    return (BackwardVanDerPol if backward else VanDerPol)(**params)


def check_run(driver: Any, run: dict[str, Any], method: str | None = None) -> None:
    """The run the page drew is dynsys.simulate's from its first state, with the page's
    method, h and t_end, to 1e-12 (backward: the reversed system, t = -τ)."""
    s = state(driver)
    states = np.array(run["states"])
    ref = simulate(
        page_system(driver, run["backward"]),
        states[0],
        t_span=(0.0, float(s["t_end"])),
        dt=float(s["dt"]),
        method=method or s["method"],
    )
    sign = -1.0 if run["backward"] else 1.0
    np.testing.assert_allclose(run["t"], sign * ref.t, rtol=0, atol=1e-12)
    np.testing.assert_allclose(states, ref.states, rtol=0, atol=1e-12)


def check_all_runs(driver: Any) -> None:
    """One drawn run per start, each as dynsys computes it for the page's current settings."""
    drawn, starts = runs(driver), state(driver)["starts"]
    assert len(drawn) == len(starts)
    for run, start in zip(drawn, starts, strict=True):
        np.testing.assert_array_equal(np.array(run["states"])[0], start)
        check_run(driver, run)


def check_all_runs_and_references(driver: Any) -> None:
    """check_all_runs, and the solve_ivp reference (asked for after the runs) joined to each."""
    check_all_runs(driver)
    assert all(run["reference"] is not None for run in runs(driver))


def check_field(driver: Any) -> None:
    """The drawn field is g(0, s) on its grid: u[k][l] = dx/dt at (x[l], y[k])."""
    field = data(driver, "field")
    x, y, u, v = (np.array(field[k]) for k in ("x", "y", "u", "v"))
    assert u.shape == v.shape == (len(y), len(x)) and len(x) >= 5
    system = page_system(driver)
    grid = np.stack(np.meshgrid(x, y), axis=-1)
    g = system.rhs(0.0, grid, None, system.params)
    np.testing.assert_allclose(u, g[..., 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(v, g[..., 1], rtol=0, atol=1e-12)


def canvas_colours(driver: Any, selector: str) -> int:
    """Number of distinct colours on a canvas (from its pixels)."""
    return js(
        driver,
        """(() => {
            const c = document.querySelector(arguments[0]);
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            const seen = new Set();
            for (let i = 0; i < d.length; i += 4) seen.add(
                ((d[i] << 24) | (d[i + 1] << 16) | (d[i + 2] << 8) | d[i + 3]) >>> 0);
            return seen.size;
        })()""",
        selector,
    )


def downloaded(folder: Path, suffix: str) -> Path:
    """The file with ``suffix`` that appears in ``folder``, once fully written."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        files = list(folder.iterdir())
        done = [f for f in files if f.suffix == suffix]
        if done and not any(f.suffix == ".crdownload" for f in files):
            return done[0]
        time.sleep(0.1)
    pytest.fail(f"no {suffix} file was downloaded")


def export(driver: Any, folder: Path, button: str, suffix: str) -> Path:
    for old in folder.iterdir():
        old.unlink()
    driver.find_element(By.CSS_SELECTOR, button).click()
    return downloaded(folder, suffix)


def severe_console(driver: Any) -> list[dict[str, Any]]:
    """The console's errors since the last call (a failed load of any file counts)."""
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def post(url: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# -- the tests -------------------------------------------------------------------------------


def test_the_page_loads_without_console_errors_and_draws_the_field(chrome, page):
    page()
    assert severe_console(chrome) == []
    check_field(chrome)
    count = draws(chrome)
    assert count >= 1 and js(chrome, "document.body.dataset.draws") == str(count)
    assert canvas_colours(chrome, "#plane") > 20


def test_a_click_starts_the_trajectory_dynsys_computes_from_there(chrome, page):
    page()
    click = real_click(chrome, 0.7, -0.4)
    (run,) = runs(chrome)
    assert_clicked(np.array(run["states"])[0], (0.7, -0.4), click)
    assert run["t"][0] == 0.0 and run["backward"] is False
    check_run(chrome, run)
    # the same path through the hook, in data coordinates: exactly the point asked for
    count = draws(chrome)
    click_hook(chrome, -1.25, 0.5)
    assert draws(chrome) > count
    _, second = runs(chrome)
    np.testing.assert_array_equal(np.array(second["states"])[0], [-1.25, 0.5])
    check_all_runs(chrome)


def test_shift_click_runs_backward_in_time(chrome, page):
    page()
    click = real_click(chrome, 1.5, 0.5, shift=True)
    (run,) = runs(chrome)
    t, states = np.array(run["t"]), np.array(run["states"])
    assert run["backward"] is True
    assert t[0] == 0.0 and np.all(np.diff(t) < 0), "backward: t decreases from 0 to -t_end"
    assert t[-1] == pytest.approx(-state(chrome)["t_end"], abs=1e-9)
    assert_clicked(states[0], (1.5, 0.5), click)
    check_run(chrome, run)
    # forward from the end of the backward run returns to the clicked point (rk4, h = 0.01)
    forward = simulate(
        page_system(chrome),
        states[-1],
        t_span=(0.0, -t[-1]),
        dt=state(chrome)["dt"],
        method=state(chrome)["method"],
    )
    assert np.linalg.norm(forward.states[-1] - states[0]) < 1e-4


def test_a_parameter_slider_recomputes_the_trajectories_and_the_field(chrome, page):
    page()
    click_hook(chrome, 0.5, 0.5)
    click_hook(chrome, -2.0, 1.0)
    mu0 = state(chrome)["params"]["mu"]
    before_runs = [np.array(r["states"]) for r in runs(chrome)]
    before_v = np.array(data(chrome, "field")["v"])
    slider = chrome.find_element(By.CSS_SELECTOR, "input[type=range][data-param=mu]")
    slider.send_keys(*[Keys.ARROW_RIGHT] * 20)  # a keyboard user moving the slider
    mu = state(chrome)["params"]["mu"]
    assert mu > mu0 and mu == pytest.approx(float(slider.get_attribute("value")))
    until(lambda: check_field(chrome))
    until(lambda: check_all_runs(chrome))
    assert np.abs(np.array(data(chrome, "field")["v"]) - before_v).max() > 1e-3
    for run, old in zip(runs(chrome), before_runs, strict=True):
        assert np.abs(np.array(run["states"]) - old).max() > 1e-3


def test_the_runs_are_drawn_first_then_the_solve_ivp_reference_joins_them(chrome, page):
    """After a slider move the field and the stepper's runs are drawn as soon as they are in
    (runDraws, lastRunsLatency), the solve_ivp reference after them; when every answer is in,
    each run carries the reference of its own start: the server's, bit for bit."""
    page()
    for x, y in ((0.5, 0.5), (-2.0, 1.0), (1.5, -1.5)):
        click_hook(chrome, x, y)
    before = js(chrome, "[explorer.runDraws, explorer.draws]")
    js(chrome, "explorer.setParam('mu', 1.7)")
    wait_for(chrome, f"explorer.runDraws > {before[0]}")
    drawn_after(chrome, before[1])
    assert 0 < js(chrome, "explorer.lastRunsLatency") <= js(chrome, "explorer.lastLatency")
    check_all_runs(chrome)
    s = state(chrome)
    system = page_system(chrome)
    drawn = runs(chrome)
    t = np.array(drawn[0]["t"])
    expected = api.reference_runs(system, np.array(s["starts"]), t)
    for run, ref in zip(drawn, expected, strict=True):
        np.testing.assert_array_equal(run["reference"]["states"], api.unpacked(ref["states"]))
        np.testing.assert_array_equal(run["reference"]["t"], t)


def reference_distance(run: dict[str, Any]) -> float:
    """Largest distance between a drawn run and the solve_ivp run drawn beside it."""
    assert run["reference"] is not None, "no solve_ivp orbit drawn beside the stepper's"
    mine, ref = np.array(run["states"]), np.array(run["reference"]["states"])
    assert mine.shape == ref.shape
    np.testing.assert_array_equal(run["t"], run["reference"]["t"])
    return float(np.linalg.norm(mine - ref, axis=-1).max())


def test_the_h_slider_moves_euler_off_solve_ivp_and_rk4_brings_it_back(chrome, page):
    page()
    select = chrome.find_element(By.CSS_SELECTOR, "#method")
    select.find_element(By.CSS_SELECTOR, "option[value=euler]").click()
    js(chrome, "explorer.setDt(0.002)")
    click_hook(chrome, 1.0, 1.0)
    assert state(chrome)["method"] == "euler"
    until(lambda: check_all_runs_and_references(chrome))
    small_h, small = state(chrome)["dt"], reference_distance(runs(chrome)[0])
    chrome.find_element(By.CSS_SELECTOR, "#dt").send_keys(*[Keys.ARROW_RIGHT] * 200)
    large_h = state(chrome)["dt"]
    assert large_h > 5 * small_h  # 200 of the slider's 1000 log steps over 4 decades: x 6.3
    until(lambda: check_all_runs_and_references(chrome))
    large = reference_distance(runs(chrome)[0])
    assert large > 3 * small, (small_h, small, large_h, large)
    count = draws(chrome)
    select.find_element(By.CSS_SELECTOR, "option[value=rk4]").click()
    drawn_after(chrome, count)
    until(lambda: check_all_runs_and_references(chrome))
    assert state(chrome)["method"] == "rk4" and state(chrome)["dt"] == large_h
    assert reference_distance(runs(chrome)[0]) < 1e-3


def test_the_stability_panel_shows_the_method_region_and_h_lambda(chrome, page):
    page()
    js(chrome, "explorer.setMethod('euler')")
    js(chrome, "explorer.setDt(0.1)")
    click_hook(chrome, 0.5, 0.5)  # the nearest equilibrium: the origin

    def drawn() -> None:
        stab = data(chrome, "stability")
        x, y, inside = np.array(stab["x"]), np.array(stab["y"]), np.array(stab["inside"])
        assert inside.shape == (len(y), len(x))
        z = x[None, :] + 1j * y[:, None]
        radius = np.abs(1 + z)  # Euler: R(z) = 1 + z
        clear = np.abs(radius - 1) > 1e-9  # off the boundary circle
        np.testing.assert_array_equal(inside[clear], (radius <= 1)[clear])
        assert inside.any() and not inside.all()
        # van der Pol's one equilibrium is the origin, J = [[0, 1], [-1, mu]]
        h, mu = state(chrome)["dt"], state(chrome)["params"]["mu"]
        lam = np.linalg.eigvals(np.array([[0.0, 1.0], [-1.0, mu]]))
        expected = sorted(h * lam, key=lambda c: (c.real, c.imag))
        points = sorted((complex(*p) for p in stab["points"]), key=lambda c: (c.real, c.imag))
        np.testing.assert_allclose(points, expected, rtol=0, atol=1e-12)
        assert stab["stable"] is False  # |1 + h lambda| > 1: Re lambda = mu / 2 > 0

    until(drawn)
    assert canvas_colours(chrome, "#stability") > 10


def test_the_time_series_panel_draws_the_last_trajectory(chrome, page):
    page()
    blank = canvas_colours(chrome, "#series")
    click_hook(chrome, 2.0, 0.0)
    assert canvas_colours(chrome, "#series") > max(blank, 10)


def test_export_csv_holds_the_trajectories(chrome, page, downloads):
    page()
    click_hook(chrome, 1.0, 0.0)
    click_hook(chrome, -0.5, 0.5, shift=True)  # inside the cycle: backward to the origin
    rows = list(
        csv.DictReader(io.StringIO(export(chrome, downloads, "#export-csv", ".csv").read_text()))
    )
    method = state(chrome)["method"]
    for k, run in enumerate(runs(chrome)):
        for curve, drawn in ((method, run), ("solve_ivp", run["reference"])):
            mine = [r for r in rows if r["trajectory"] == str(k) and r["curve"] == curve]
            assert {r["direction"] for r in mine} == {"backward" if run["backward"] else "forward"}
            written = np.array([[float(r[c]) for c in ("t", "x", "y")] for r in mine])
            expected = np.column_stack([drawn["t"], drawn["states"]])
            np.testing.assert_array_equal(written, expected)  # JavaScript prints doubles exactly


def test_export_png_is_a_picture(chrome, page, downloads):
    from PIL import Image

    page()
    click_hook(chrome, 0.5, 1.5)
    with Image.open(export(chrome, downloads, "#export-png", ".png")) as png:
        rgb = np.asarray(png.convert("RGB"), dtype=np.uint32)
    height, width, _ = rgb.shape
    _, counts = np.unique(
        (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2], return_counts=True
    )
    assert width >= 300 and height >= 200
    assert len(counts) >= 50
    # the most common colour (the background) covers less than 98 % of it: it is not blank
    assert counts.max() < 0.98 * width * height
    svg = export(chrome, downloads, "#export-svg", ".svg").read_text()
    assert svg.lstrip().startswith(("<svg", "<?xml")) and svg.count("<path") >= 1


def test_nothing_is_fetched_from_the_network(chrome, page):
    url = page()
    click_hook(chrome, 1.0, 1.0)
    click_hook(chrome, -1.0, 1.0, shift=True)
    resources = js(chrome, "performance.getEntriesByType('resource').map(e => e.name)")
    assert resources and all(r.startswith(url + "/") for r in resources), resources
    requested = []
    for entry in chrome.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requested.append(message["params"]["request"]["url"])
    assert url + "/api/info" in requested and url + "/api/trajectories" in requested
    outside = [r for r in requested if not r.startswith((url + "/", "data:", "blob:"))]
    assert outside == []
    assert severe_console(chrome) == []


def test_a_one_state_map_draws_its_orbit_and_cobweb(chrome, page):
    page("logistic_map")
    click_hook(chrome, 0.3, 0.0)
    (run,) = runs(chrome)
    states = np.array(run["states"])
    assert states[0, 0] == 0.3
    s = state(chrome)
    ref = simulate(
        get_system("logistic_map", r=s["params"]["r"]),
        [0.3],
        t_span=(0.0, float(s["t_end"])),
        method="map",
    )
    np.testing.assert_allclose(states, ref.states, rtol=0, atol=1e-12)
    cobweb = np.array(data(chrome, "trajectories")["cobweb"])
    assert cobweb.ndim == 2 and cobweb.shape[1] == 2 and len(cobweb) >= len(states)
    assert canvas_colours(chrome, "#plane") > 10 and severe_console(chrome) == []


def test_a_two_state_map_draws_its_orbit(chrome, page):
    page("henon_map")
    click_hook(chrome, 0.1, 0.1)
    (run,) = runs(chrome)
    s = state(chrome)
    params = {k: float(v) for k, v in s["params"].items()}
    ref = simulate(
        get_system("henon_map", **params), [0.1, 0.1], t_span=(0.0, float(s["t_end"])), method="map"
    )
    np.testing.assert_allclose(run["states"], ref.states, rtol=0, atol=1e-12)
    assert canvas_colours(chrome, "#plane") > 10 and severe_console(chrome) == []


def test_a_model_file_draws_its_learned_field_and_rollout(chrome, page, model_file):
    page(str(model_file))
    assert js(chrome, "explorer.info.model.kind") == "jordan"
    field = data(chrome, "field")
    assert field["learned"] is not None
    learned = np.array(field["learned"]["u"])
    assert learned.shape == np.array(field["u"]).shape and np.isfinite(learned).all()
    click_hook(chrome, 0.5, 0.5)
    (run,) = runs(chrome)
    rollout = np.array(run["model"]["states"])
    assert len(rollout) > 1 and np.isfinite(rollout).all()
    np.testing.assert_array_equal(rollout[0], np.array(run["states"])[0])
    assert severe_console(chrome) == []


def test_a_bad_t_end_shows_the_server_error_in_the_status_line(chrome, page):
    url = page()
    click_hook(chrome, 1.0, 0.0)
    s = state(chrome)
    box = chrome.find_element(By.CSS_SELECTOR, "#t-end")
    box.clear()
    box.send_keys("1e9", Keys.TAB)  # the change event
    status, body = post(
        url + "/api/trajectories",
        {
            "params": s["params"],
            "starts": s["starts"],
            "method": s["method"],
            "dt": s["dt"],
            "t_end": 1e9,
            "backward": False,
            "reference": True,
        },
    )
    assert status == 400 and "\n" not in body["error"]
    wait_for(
        chrome,
        "document.querySelector('#status').textContent.includes(arguments[0])".replace(
            "arguments[0]", json.dumps(body["error"])
        ),
    )
    assert js(chrome, "document.querySelector('#status').textContent") == body["error"]
