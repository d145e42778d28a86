"""reports/report.html opens in headless Chromium with the network cut off: every image
draws, no request leaves the page (issue 26). The browser is driven as tests/test_plots_offline
drives it: DevTools over --remote-debugging-pipe, host names resolving to nothing and a dead
proxy.

`python -m tests.test_report_offline` writes the screenshot of the first screen that README
links (docs/report-first-screen.png), by the same code."""

from __future__ import annotations

import base64
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.test_plots_offline import CHROMIUM, PAGE_TIMEOUT, DevTools, attach_page

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "reports" / "report.html"
SCREENSHOT = ROOT / "docs" / "report-first-screen.png"
FIRST_SCREEN = {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}

MEASURE_JS = """
JSON.stringify(Array.from(document.images).map(img => {
  let ink = 0;
  if (img.complete && img.naturalWidth) {
    const c = document.createElement('canvas');
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < d.length; i += 4 * 97) {
      if (d[i + 3] > 0 && (d[i] < 240 || d[i + 1] < 240 || d[i + 2] < 240)) ink++;
    }
  }
  return {alt: img.alt, complete: img.complete, width: img.naturalWidth,
          shown: img.getBoundingClientRect().width, ink: ink,
          scheme: img.currentSrc.split(':')[0]};
}))
"""


def open_offline(page: Path, profile: Path, screenshot: Path | None = None) -> dict[str, Any]:
    """Open `page` with no network; return its images as measured and every URL requested
    (and write the first screen as PNG when `screenshot` is given)."""
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed: apt-get install chromium")
    shutil.rmtree(profile, ignore_errors=True)
    profile.mkdir(parents=True)
    browser = DevTools(profile, profile.parent / "chromium.log")
    try:
        deadline = time.monotonic() + PAGE_TIMEOUT
        session = attach_page(browser, deadline, ("Network", "Page", "Runtime"))
        browser.send("Emulation.setDeviceMetricsOverride", FIRST_SCREEN, session, deadline)
        browser.events.clear()
        browser.send("Page.navigate", {"url": page.resolve().as_uri()}, session, deadline)
        browser.wait_for("Page.loadEventFired", deadline)
        value = browser.send("Runtime.evaluate", {"expression": MEASURE_JS}, session, deadline)[
            "result"
        ]["value"]
        if screenshot is not None:
            shot = browser.send("Page.captureScreenshot", {"format": "png"}, session, deadline)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        requests = [
            e["params"]["request"]["url"]
            for e in browser.events
            if e.get("method") == "Network.requestWillBeSent"
        ]
        return {"images": json.loads(value), "requests": requests}
    finally:
        browser.close()


def test_every_image_draws_and_nothing_leaves_the_page(tmp_path: Path) -> None:
    if not REPORT.is_file():
        pytest.skip("no reports/report.html: run dvc repro")
    result = open_offline(REPORT, tmp_path / "profile", tmp_path / "first.png")
    images = result["images"]
    assert len(images) >= 4  # the marketer's charts at least
    for img in images:
        assert img["scheme"] == "data", img  # embedded, not linked
        assert img["complete"], img
        assert img["width"] > 0, img
        assert img["shown"] > 0, img
        assert img["ink"] > 20, img  # something is drawn, not a blank or broken image
    # the page itself is the one request; a data: image is no request on the network
    outside = [u for u in result["requests"] if not u.startswith(("file://", "data:"))]
    assert outside == []
    assert (tmp_path / "first.png").stat().st_size > 10_000


def test_the_check_fails_on_a_linked_image(tmp_path: Path) -> None:
    """The same measurement on a page that links its figure: the request is recorded and the
    image does not draw."""
    page = tmp_path / "linked.html"
    page.write_text('<html><body><img alt="x" src="https://example.com/fig.png"></body></html>')
    result = open_offline(page, tmp_path / "profile")
    assert any(u.startswith("https://example.com/") for u in result["requests"])
    (img,) = result["images"]
    assert img["scheme"] == "https"
    assert img["width"] == 0


if __name__ == "__main__":  # the committed screenshot, by the code the test runs
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = open_offline(REPORT, Path(tmp) / "profile", SCREENSHOT)
    outside = [u for u in out["requests"] if not u.startswith(("file://", "data:"))]
    sys.stdout.write(f"{SCREENSHOT}: {len(out['images'])} images, {len(outside)} requests out\n")
