"""A real headless Chromium for the HTML report tests, from Debian's `chromium` and `chromium-driver`.

`ensure_chromium()` installs the two packages (and `fonts-liberation`, so screenshots show text)
through `apt_install`, like the lab's other Debian packages, once. `open_report(path, screenshot)`
opens a local HTML file with Selenium and returns a `PageResult`: the visible text, the headings,
elements by CSS selector, the browser console's entries and a full-page PNG screenshot.

No browser or driver is ever downloaded: Selenium is given both paths (`/usr/bin/chromium`,
`/usr/bin/chromedriver`), so Selenium Manager is not run, and `SE_OFFLINE` is set in case it were.
The page loads with networking blocked: every host name, IP literals included, fails to resolve
(`--host-resolver-rules`), so a report that fetches anything from the network shows a console
error ("Failed to load resource: net::ERR_NAME_NOT_RESOLVED"). The DevTools protocol's
`Network.setBlockedURLs` is not used: the requests it blocks leave no console entry.

`python -m lab.browser PAGE.html SHOT.png` prints the result as JSON.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import struct
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab.services import apt_install, log

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PACKAGES = ("chromium", "chromium-driver", "fonts-liberation")

# Without the background-networking flags Chromium keeps trying to reach Google's services, which
# the closed network refuses slowly; a fresh --user-data-dir per page keeps runs independent.
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--disable-extensions", "--disable-default-apps",
    "--hide-scrollbars", "--window-size=1280,1024",
    # the page gets no network: every host name and IP address fails to resolve, with a console error
    "--host-resolver-rules=MAP * ~NOTFOUND",
)
# Failed loads reach chromedriver's log a few milliseconds after the load event.
CONSOLE_SETTLE_SECONDS = 0.5
MAX_SCREENSHOT_HEIGHT = 16384
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_JS_ELEMENTS = """
return Array.from(document.querySelectorAll(arguments[0])).map(e => ({
  tag: e.tagName.toLowerCase(),
  text: (e.innerText === undefined ? e.textContent : e.innerText).trim(),
  attributes: Object.fromEntries(Array.from(e.attributes).map(a => [a.name, a.value])),
}));
"""


def _lab_home() -> Path:
    return Path(os.environ.get("MSPCTL_LAB_HOME", Path.home() / ".cache" / "mspctl-lab"))


def chromium_installed() -> bool:
    return os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)


def ensure_chromium() -> tuple[Path, Path]:
    """Install Debian's chromium and chromium-driver unless both are there; return their paths.

    Idempotent and safe to call from two processes at once (a lock file under the lab home).
    Raises SystemExit, like the lab's other installs, when apt-get fails or we are not root.
    """
    if not chromium_installed():
        home = _lab_home()
        home.mkdir(parents=True, exist_ok=True)
        with (home / "chromium-install.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not chromium_installed():
                log("Chromium: installing Debian's chromium and chromium-driver")
                apt_install(*PACKAGES)
        if not chromium_installed():
            raise SystemExit(f"[lab] {CHROMIUM} or {CHROMEDRIVER} missing after installing {', '.join(PACKAGES)}")
    return CHROMIUM, CHROMEDRIVER


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    id: str = ""


@dataclass(frozen=True)
class Element:
    tag: str
    text: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ConsoleEntry:
    """One browser console entry, as chromedriver's `browser` log gives it (level SEVERE, WARNING, INFO)."""

    level: str
    message: str
    source: str = ""


@dataclass(frozen=True)
class PageResult:
    """What a page showed in Chromium: its title, visible text, headings (h1-h6, in document
    order), the elements of each selector asked for, every console entry, and the screenshot."""

    url: str
    title: str
    text: str
    headings: list[Heading]
    elements: dict[str, list[Element]]
    console: list[ConsoleEntry]
    screenshot: Path

    @property
    def console_errors(self) -> list[ConsoleEntry]:
        """Console errors: `console.error`, uncaught exceptions, resources that failed to load."""
        return [e for e in self.console if e.level == "SEVERE"]

    def heading_texts(self, *levels: int) -> list[str]:
        return [h.text for h in self.headings if not levels or h.level in levels]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["screenshot"] = str(self.screenshot)
        data["console_errors"] = [asdict(e) for e in self.console_errors]
        return data


class Page:
    """A page open in Chromium, for the duration of `open_page`'s block."""

    def __init__(self, driver: Any) -> None:
        self._driver = driver
        self._console: list[ConsoleEntry] = []
        self._loaded = time.monotonic()

    @property
    def url(self) -> str:
        return str(self._driver.current_url)

    @property
    def title(self) -> str:
        return str(self._driver.title)

    def text(self) -> str:
        """The body's visible text (what a reader sees, not hidden elements or <script>)."""
        return str(self._driver.execute_script("return document.body ? document.body.innerText : '';"))

    def select(self, css: str) -> list[Element]:
        """The elements matching a CSS selector, with their visible text and attributes."""
        rows = self._driver.execute_script(_JS_ELEMENTS, css) or []
        return [Element(r["tag"], r["text"], dict(r["attributes"])) for r in rows]

    def headings(self) -> list[Heading]:
        return [Heading(int(e.tag[1]), e.text, e.attributes.get("id", ""))
                for e in self.select("h1, h2, h3, h4, h5, h6")]

    def console(self) -> list[ConsoleEntry]:
        """Every console entry so far (chromedriver hands each out once, so they are kept here)."""
        time.sleep(max(0.0, self._loaded + CONSOLE_SETTLE_SECONDS - time.monotonic()))
        for row in self._driver.get_log("browser"):
            self._console.append(ConsoleEntry(str(row.get("level", "")), str(row.get("message", "")),
                                              str(row.get("source", ""))))
        return list(self._console)

    def screenshot(self, path: Path) -> Path:
        """A PNG of the whole page (up to MAX_SCREENSHOT_HEIGHT CSS pixels high)."""
        import base64

        metrics = self._driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        clip = {"x": 0, "y": 0, "width": max(1, int(size["width"])),
                "height": max(1, min(int(size["height"]), MAX_SCREENSHOT_HEIGHT)), "scale": 1}
        shot = self._driver.execute_cdp_cmd("Page.captureScreenshot",
                                            {"format": "png", "captureBeyondViewport": True, "clip": clip})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


@contextmanager
def open_page(path: Path, *, timeout: float = 60.0) -> Iterator[Page]:
    """Open a local HTML file in a fresh headless Chromium with the network blocked.

    Raises FileNotFoundError for a missing file; Selenium's WebDriverException when Chromium
    does not start or the page does not load within `timeout` seconds.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    page_file = Path(path).resolve()
    if not page_file.is_file():
        raise FileNotFoundError(page_file)
    chromium, chromedriver = ensure_chromium()
    # Selenium Manager is skipped when the driver's path is given; offline in case it ever runs.
    os.environ["SE_OFFLINE"] = "true"
    profile = tempfile.mkdtemp(prefix="mspctl-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(chromedriver), log_output=os.devnull)
    driver = None
    try:
        driver = webdriver.Chrome(service=service, options=options)
        driver.set_page_load_timeout(timeout)
        driver.get(page_file.as_uri())
        yield Page(driver)
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_report(path: Path, screenshot: Path, selectors: Sequence[str] = (), *,
                timeout: float = 60.0) -> PageResult:
    """Open a local HTML file in headless Chromium and return what it showed, as a value.

    `selectors` are CSS selectors whose elements are returned in `elements`; the screenshot is
    written to `screenshot` (a PNG of the whole page). Errors as for `open_page`.
    """
    with open_page(path, timeout=timeout) as page:
        elements = {css: page.select(css) for css in selectors}
        shot = page.screenshot(Path(screenshot))
        return PageResult(url=page.url, title=page.title, text=page.text(), headings=page.headings(),
                          elements=elements, console=page.console(), screenshot=shot)


def png_size(path: Path) -> tuple[int, int]:
    """A PNG file's width and height in pixels; ValueError when the file is not a PNG."""
    data = Path(path).read_bytes()[:24]
    if len(data) < 24 or data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise ValueError(f"{path} is not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lab.browser", description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path, help="a local HTML file")
    parser.add_argument("screenshot", type=Path, help="where to write the PNG screenshot")
    parser.add_argument("--select", action="append", default=[], help="a CSS selector to report (repeatable)")
    args = parser.parse_args(argv)
    result = open_report(args.page, args.screenshot, args.select)
    print(json.dumps(result.to_json(), indent=2))
    return 1 if result.console_errors else 0


if __name__ == "__main__":
    sys.exit(main())
