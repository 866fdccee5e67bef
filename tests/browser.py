"""Headless Chromium checks of report pages, shared by the smoke report's and the published report's tests."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

WIDGET_PAGES = {"01_architecture": ["data-explorer"], "04_noise_injection": ["noise-preview-live", "perturbation-viewer"],
                "05_summary": ["run-explorer", "mistakes", "confusion"],
                "07_reproducing_the_original": ["original-lenet5-mistakes", "our-lenet5-mistakes"]}
WIDGET_IMAGES = {"01_architecture": 1, "04_noise_injection": 2, "05_summary": 3,
                 "07_reproducing_the_original": 2}  # Image widgets per page


def chromium_or_skip() -> str:
    """Chromium's path; on CI a missing browser fails the test instead of skipping it."""
    chromium = shutil.which("chromium")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs it with apt-get")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return chromium


# Every table, folded ones opened, against the box it is shown in (wider, it would scroll sideways inside it) and
# against 8 columns beside its index (more, and a reader loses the row).
MAX_COLUMNS = 8
WIDE_TABLES = """() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  return Array.from(document.querySelectorAll('table')).map((t, i) => {
    const box = t.closest('.jp-OutputArea-output, .jp-RenderedHTMLCommon') || t.parentElement;
    const head = t.querySelector('th') ? t.querySelector('th').textContent.trim().slice(0, 40) : '';
    const row = Array.from(t.rows).reduce((a, r) => Math.max(a, r.querySelectorAll('td').length), 0);
    return [i, Math.round(t.scrollWidth), Math.round(box.clientWidth), head, row];
  }).filter(([i, width, room, head, columns]) => width > room + 1 || columns > %d);
}""" % MAX_COLUMNS


def check_pages(index: Path, pages: list[Path], widgets: bool) -> None:
    """Open every page at 1300 and 400 px: no sideways scroll, every image loaded, each saved widget
    drawn (when ``widgets``), no console error and no failed request; at 1300 px no table wider than the box it is
    shown in, folded tables opened."""
    from playwright.sync_api import sync_playwright

    chromium = chromium_or_skip()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page()
            problems = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
            for width in (1300, 400):  # a desktop and a phone: the page never scrolls sideways
                page.set_viewport_size({"width": width, "height": 900})
                for path in pages:
                    page.goto(path.as_uri(), wait_until="load")
                    scroll = page.evaluate("document.documentElement.scrollWidth")
                    assert scroll <= width, f"{path.name} is {scroll} px wide in a {width} px window"
                    if width == 1300:
                        problems += [f"{path.name}: table {i} ({head!r}) is {wide} px in a {room} px box, "
                                     f"{columns} columns" for i, wide, room, head, columns in page.evaluate(WIDE_TABLES)]
            page.set_viewport_size({"width": 1300, "height": 900})
            for path in pages:
                page.goto(path.as_uri(), wait_until="load")
                if path.stem in WIDGET_PAGES and widgets:
                    # the html-manager draws each saved widget: its controls and its figure
                    page.wait_for_selector("img.widget-image", timeout=30_000)
                    drawn = page.evaluate("document.querySelectorAll('img.widget-image').length")
                    assert drawn == WIDGET_IMAGES[path.stem], path.name
                images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
                assert all(done and width > 0 for done, width in images), path.name
                assert path == index or images, f"{path.name} has no images"
            assert not problems, problems
        finally:
            browser.close()
