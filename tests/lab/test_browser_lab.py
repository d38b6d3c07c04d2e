"""The headless Chromium harness (lab/browser.py) on small self-written pages: the text, headings
and elements it reads, the console errors it reports, the network it blocks and its screenshots."""

from __future__ import annotations

from pathlib import Path

from lab.browser import png_size
from tests.conftest import Chromium

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Harness page</title>
<style>
  body { font-family: sans-serif; margin: 2rem; }
  .bar { fill: #2a7; }
  .tall { height: 3000px; border-left: 4px solid #ccc; }
  .hidden { display: none; }
</style></head>
<body>
  <h1 id="cover">Acme Manufacturing</h1>
  <section id="summary"><h2>Summary</h2>
    <p>Configuration compliance <span class="figure" data-figure="config">87.5%</span></p>
    <svg class="chart" width="240" height="60" role="img" aria-label="compliance">
      <rect class="bar" x="0" y="0" width="210" height="20"></rect>
      <text x="4" y="45">7 of 8 devices</text>
    </svg>
  </section>
  <section id="patches"><h2>Patch compliance</h2><h3>Missing updates</h3>
    <p class="hidden">not shown to a reader</p>
    <div class="tall">end of page</div>
  </section>
</body></html>
"""


def write(tmp_path: Path, name: str, html: str) -> Path:
    page = tmp_path / name
    page.write_text(html, encoding="utf-8")
    return page


def test_text_headings_elements_and_a_full_page_screenshot(chromium: Chromium, tmp_path: Path) -> None:
    page = chromium.open(write(tmp_path, "ok.html", PAGE), "browser-harness-ok", (".figure", "svg.chart rect"))

    assert page.title == "Harness page"
    assert page.heading_texts(1) == ["Acme Manufacturing"]
    assert page.heading_texts(2) == ["Summary", "Patch compliance"]
    assert page.heading_texts() == ["Acme Manufacturing", "Summary", "Patch compliance", "Missing updates"]
    assert page.headings[0].id == "cover"
    assert "Configuration compliance 87.5%" in page.text
    assert "7 of 8 devices" in page.text  # SVG text is visible text
    assert "not shown to a reader" not in page.text
    [figure] = page.elements[".figure"]
    assert (figure.tag, figure.text, figure.attributes["data-figure"]) == ("span", "87.5%", "config")
    [bar] = page.elements["svg.chart rect"]
    assert bar.attributes["width"] == "210"
    assert page.console == [] and page.console_errors == []

    assert page.screenshot == chromium.artifacts / "browser-harness-ok.png"
    assert page.screenshot.stat().st_size > 1000
    width, height = png_size(page.screenshot)
    assert width >= 1000 and height > 3000, "the screenshot is of the whole page, not the viewport"


def test_console_error_and_uncaught_exception_are_reported(chromium: Chromium, tmp_path: Path) -> None:
    html = ("<!doctype html><html><head><title>bad</title></head><body><h1>Bad</h1>"
            "<script>console.error('deliberate error'); console.warn('just a warning');</script>"
            "<script>undefinedFunction();</script></body></html>")
    page = chromium.open(write(tmp_path, "bad.html", html), "browser-harness-console-error")

    messages = [e.message for e in page.console_errors]
    assert any("deliberate error" in m for m in messages), page.console
    assert any("undefinedFunction" in m for m in messages), page.console
    assert not any("just a warning" in m for m in messages), "a warning is not an error"
    assert any(e.level == "WARNING" and "just a warning" in e.message for e in page.console)
    assert png_size(page.screenshot)[0] > 0


def test_the_network_is_blocked_and_a_failed_fetch_is_an_error(chromium: Chromium, tmp_path: Path) -> None:
    # An unresolvable name, and an IP address that would answer (the lab's NetBox listens on
    # loopback): both must fail, so a report that needs the network shows an error.
    html = ("<!doctype html><html><body><h1>Remote</h1>"
            '<img src="http://example.invalid/x.png" alt="x">'
            '<img src="http://127.0.0.1:18080/static/x.png" alt="y">'
            '<link rel="stylesheet" href="https://cdn.example.com/style.css">'
            "</body></html>")
    page = chromium.open(write(tmp_path, "remote.html", html), "browser-harness-network")

    failed = {e.message.split(" ")[0] for e in page.console_errors if "Failed to load resource" in e.message}
    assert failed == {"http://example.invalid/x.png", "http://127.0.0.1:18080/static/x.png",
                      "https://cdn.example.com/style.css"}, page.console
