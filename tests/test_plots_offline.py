"""`dvc plots show` and `dvc plots diff` on a fresh clone draw every plot with no network.

The committed page template (.dvc/plots/template.html, built by .ci/build-plots-template and
set as `plots.html_template` in .dvc/config) inlines vega, vega-lite and vega-embed. The tests
clone the repository, run the real dvc commands, and open the pages in headless Chromium with
the network cut off, driven over the DevTools protocol (`--remote-debugging-pipe`): every
request the page makes is recorded, and each plot's canvas is read back pixel by pixel.
dvc's default page, which loads the libraries from a CDN, must fail the same check.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import yaml

from tests.e2e_helpers import plots_with_data

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / ".dvc" / "plots" / "template.html"
CHROMIUM = Path("/usr/bin/chromium")
COMMAND_TIMEOUT = 120
PAGE_TIMEOUT = 30.0

pytestmark = pytest.mark.e2e


def _plot_count() -> int:
    """dvc.yaml's plots: dvc writes a div for each, even one whose data holds no row."""
    return len(yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["plots"])


def _env() -> dict[str, str]:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("GIT_DIR", None)
    return env


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        cmd,
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"{cmd} exited {result.returncode}\n{result.stderr[-3000:]}"
    return result


def _clone(dest: Path) -> Path:
    """A fresh clone of this repository's committed state: what a new user gets."""
    if not (ROOT / ".git").exists():
        pytest.skip(f"{ROOT} is not a git repository: nothing to clone")
    _run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(dest)], ROOT)
    return dest


def _dvc(repo: Path, *args: str) -> Path:
    """Run `dvc plots ...` in `repo`; return the page it wrote (dvc prints its file:// URI)."""
    result = _run([sys.executable, "-m", "dvc", "plots", *args], repo)
    uri = result.stdout.strip().splitlines()[-1]
    assert uri.startswith("file://"), result.stdout
    page = Path(unquote(uri.removeprefix("file://")))
    assert page.is_file()
    return page


# --- headless Chromium over the DevTools protocol, offline --------------------------------


# Per plot div that dvc wrote (<div id=...> in <body>, holding the vegaEmbed call that fills
# it): its canvas, how many pixels are not white ("ink": axes, text, marks) and how many are
# coloured ("colour": max - min channel > 60, which the grey and black axes and text never
# are; the data marks are).
MEASURE_JS = r"""
(() => {
  const plots = [...document.querySelectorAll("body > div[id]")];
  return JSON.stringify({
    library: typeof vegaEmbed === "function",
    plots: plots.map((div) => {
      const canvases = div.querySelectorAll("canvas");
      const out = {id: div.id, canvases: canvases.length, ink: 0, colour: 0};
      if (canvases.length !== 1) return out;
      const canvas = canvases[0];
      out.width = canvas.width;
      out.height = canvas.height;
      if (!canvas.width || !canvas.height) return out;
      const px = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 0; i < px.length; i += 4) {
        if (px[i + 3] === 0) continue;
        const r = px[i], g = px[i + 1], b = px[i + 2];
        if (r < 245 || g < 245 || b < 245) out.ink++;
        if (Math.max(r, g, b) - Math.min(r, g, b) > 60) out.colour++;
      }
      return out;
    }),
  });
})()
"""

# A plot counts as drawn with at least this many coloured pixels. Measured on this project's
# pages: a legend swatch alone has up to ~130, each chart's data marks have 700 to 47,000.
MIN_COLOUR_PIXELS = 300

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--hide-scrollbars",
    "--window-size=1280,1024",
    # No network: every host name resolves to nothing, and every request that would still go
    # out goes to a proxy on the discard port, where nothing listens.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9",
    "--remote-debugging-pipe",
]


@dataclass
class Rendered:
    library: bool  # vegaEmbed defined on the page
    plots: list[dict[str, Any]]
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    errors: list[str] = field(default_factory=list)  # uncaught exceptions and console errors

    @property
    def network_requests(self) -> list[str]:
        return [url for url in self.requests if re.match(r"(?i)(https?|wss?|ftp)://", url)]

    def drawn(self) -> int:
        """Plots drawn: one canvas of non-zero size, with ink and with data marks in colour."""
        return sum(
            1
            for plot in self.plots
            if plot["canvases"] == 1
            and plot.get("width")
            and plot["ink"] > plot["colour"] >= MIN_COLOUR_PIXELS
        )


def attach_page(browser: DevTools, deadline: float, domains: tuple[str, ...]) -> str:
    """Attach to the browser's page and enable `domains` on it; returns the session id."""
    targets = browser.send("Target.getTargets", deadline=deadline)["targetInfos"]
    target = next(t["targetId"] for t in targets if t["type"] == "page")
    session = browser.send(
        "Target.attachToTarget", {"targetId": target, "flatten": True}, deadline=deadline
    )["sessionId"]
    for domain in domains:
        browser.send(f"{domain}.enable", session=session, deadline=deadline)
    return session


class DevTools:
    """Just enough of the Chrome DevTools protocol over --remote-debugging-pipe: Chromium
    reads commands on fd 3 and writes replies and events on fd 4, NUL-terminated JSON."""

    def __init__(self, profile: Path, log: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def child_fds() -> None:  # in the child, before exec: put the pipe ends on fds 3, 4
            read_end = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            write_end = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                pass_fds=(3, 4),
                preexec_fn=child_fds,  # this process runs no threads
            )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        with contextlib.suppress(AssertionError, OSError):
            self.send("Browser.close", deadline=time.monotonic() + 5)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "Chromium did not answer in time"
            ready, _, _ = select.select([self._from_chrome], [], [], remaining)
            if ready:
                chunk = os.read(self._from_chrome, 1 << 20)
                assert chunk, f"Chromium closed the DevTools pipe (exit {self.process.poll()})"
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        deadline: float | None = None,
    ) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = deadline or time.monotonic() + PAGE_TIMEOUT
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                assert "error" not in reply, f"{method}: {reply['error']}"
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, deadline: float) -> None:
        while not any(event.get("method") == method for event in self.events):
            self.events.append(self._read_message(deadline))


def render_offline(page: Path, tmp_path: Path, expected: int) -> Rendered:
    """Open `page` in headless Chromium with no network; wait until `expected` plots have a
    canvas (or the page cannot draw: vegaEmbed missing after load, or PAGE_TIMEOUT)."""
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed: apt-get install chromium")
    profile = tmp_path / "chromium-profile"
    shutil.rmtree(profile, ignore_errors=True)
    browser = DevTools(profile, tmp_path / "chromium.log")
    try:
        deadline = time.monotonic() + PAGE_TIMEOUT
        session = attach_page(browser, deadline, ("Network", "Page", "Runtime", "Log"))
        browser.events.clear()
        browser.send("Page.navigate", {"url": page.resolve().as_uri()}, session, deadline)
        browser.wait_for("Page.loadEventFired", deadline)
        while True:
            value = browser.send("Runtime.evaluate", {"expression": MEASURE_JS}, session, deadline)[
                "result"
            ]["value"]
            measured = json.loads(value)
            with_canvas = sum(1 for plot in measured["plots"] if plot["canvases"])
            if with_canvas >= expected or not measured["library"]:
                break
            assert time.monotonic() < deadline, f"only {with_canvas} of {expected} plots drew"
            time.sleep(0.1)
        rendered = Rendered(measured["library"], measured["plots"])
        for event in browser.events:
            params = event.get("params", {})
            if event.get("method") == "Network.requestWillBeSent":
                rendered.requests.append(params["request"]["url"])
            elif event.get("method") == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                rendered.errors.append(
                    details.get("exception", {}).get("description") or details["text"]
                )
            elif event.get("method") == "Log.entryAdded" and params["entry"]["level"] == "error":
                rendered.errors.append(params["entry"]["text"])
        return rendered
    finally:
        browser.close()


# --- the tests -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _clone(tmp_path_factory.mktemp("plots") / "repo")


@pytest.mark.parametrize(
    "command", [("show",), ("diff", "HEAD")], ids=["plots-show", "plots-diff-HEAD"]
)
def test_dvc_plots_draw_offline_on_a_fresh_clone(
    clone: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    # Plain `dvc plots show` / `dvc plots diff HEAD`: the template comes from .dvc/config.
    page = _dvc(clone, *command, "-o", str(tmp_path / "out"))
    html = page.read_text(encoding="utf-8")
    expected = _plot_count()
    with_data = len(plots_with_data(ROOT))  # an empty plot (one snapshot's backtest) draws none
    assert html.count("vegaEmbed('#") == expected
    assert "<script src=" not in html  # no library loaded from anywhere

    rendered = render_offline(page, tmp_path, with_data)

    assert rendered.library
    assert len(rendered.plots) == expected
    assert rendered.drawn() == with_data, rendered.plots
    assert rendered.network_requests == []
    assert rendered.requests == [page.resolve().as_uri()]  # the page itself, nothing else
    assert rendered.errors == []


def test_the_check_fails_on_dvcs_default_cdn_page(tmp_path: Path) -> None:
    # The same project without the template setting: dvc's own page, which loads vega from a
    # CDN, draws nothing offline, and the check sees the attempted CDN requests.
    repo = _clone(tmp_path / "repo")
    _run([sys.executable, "-m", "dvc", "config", "--unset", "plots.html_template"], repo)
    page = _dvc(repo, "show")
    html = page.read_text(encoding="utf-8")
    assert '<script src="https://cdn.jsdelivr.net/npm/vega@5' in html

    rendered = render_offline(page, tmp_path, _plot_count())

    assert not rendered.library
    assert len(rendered.plots) == _plot_count()
    assert rendered.drawn() == 0
    assert any("cdn.jsdelivr.net/npm/vega@" in url for url in rendered.network_requests)
    assert any("vegaEmbed is not defined" in error for error in rendered.errors)


def test_template_is_self_contained_and_matches_the_pins() -> None:
    # Cheap checks on the committed file; the browser tests above prove it draws.
    html = TEMPLATE.read_text(encoding="utf-8")
    assert html.count("{plot_divs}") == 1
    assert "{scripts}" not in html  # where dvc would add its CDN <script src> tags
    assert not re.search(r"<script[^>]*\bsrc=", html)
    script = (ROOT / ".ci" / "build-plots-template").read_text(encoding="utf-8")
    pins = re.findall(r'Package\(\s*"([\w-]+)",\s*"([\d.]+)",\s*"(sha512-[^"]+)"', script)
    assert [name for name, _, _ in pins] == ["vega", "vega-lite", "vega-embed"]
    for name, version, integrity in pins:
        assert f"<script>/* {name} {version} */" in html
        assert integrity in html
        assert f"==== Licence of {name} {version} ====" in html
    config = (ROOT / ".dvc" / "config").read_text(encoding="utf-8")
    assert re.search(r"(?m)^\s*html_template\s*=\s*plots/template\.html\s*$", config)
