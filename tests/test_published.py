"""The committed full report in docs/ (make docs): complete, current, small, and readable in a browser.

These tests fail when the notebooks change after docs/ was made (regenerate it with `make docs`),
when it grows past the size a repository should carry, or when a page breaks in Chromium.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from browser import check_pages

from mnistlib.report.publish import MAX_BYTES, PROVENANCE, folder_bytes, notebooks_hash

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# where a report might have been made: no page may name such a folder
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:root|home|work|tmp|Users|private|mnt)/[\w.-]")


def _record() -> dict:
    assert (DOCS / PROVENANCE).exists(), "docs/ holds no published report: run `make docs`"
    return json.loads((DOCS / PROVENANCE).read_text())


def test_the_published_report_is_the_full_profile_of_todays_notebooks():
    record = _record()
    assert record["profile"] == "full"
    assert record["notebooks_sha256"] == notebooks_hash(ROOT / "notebooks"), (
        "notebooks/ changed since docs/ was published: run `make docs` (stored runs are reused)")
    assert not record["uncommitted_changes"], "docs/ was made from uncommitted code: commit, then `make docs`"
    assert re.fullmatch(r"[0-9a-f]{40}", record["commit"])


def test_the_published_report_has_every_page_and_fits_a_repository():
    record = _record()
    names = {p.name for p in DOCS.iterdir()}
    assert {"index.html", *(p.with_suffix(".html").name for p in NOTEBOOKS)} <= names
    assert not any(name.endswith((".ipynb", ".csv", ".log")) for name in names)
    size = folder_bytes(DOCS) - (DOCS / PROVENANCE).stat().st_size
    assert size == record["bytes"] and size <= MAX_BYTES, f"docs/ is {size / 2**20:.1f} MB"
    links = re.findall(r'href="([^"]+\.html)"', (DOCS / "index.html").read_text())
    assert links == [p.with_suffix(".html").name for p in NOTEBOOKS]


def test_no_plumbing_in_the_published_pages():
    for page in DOCS.glob("*.html"):
        html = page.read_text()
        assert "reused from the store" not in html and "trained in " not in html, page.name
        assert "PosixPath" not in html and "<pandas." not in html, page.name
        assert not MACHINE_PATH.search(html), f"{page.name}: {MACHINE_PATH.search(html).group(0)}"


@pytest.mark.browser
def test_the_published_pages_open_from_disk_in_chromium():
    _record()
    pages = [DOCS / "index.html"] + [DOCS / p.with_suffix(".html").name for p in NOTEBOOKS]
    check_pages(DOCS / "index.html", pages, widgets=(DOCS / "widgets" / "embed.js").exists())
