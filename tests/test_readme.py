"""README is a front door: short, its first screen what a newcomer needs, its links alive, its result
numbers those of the published report; and no page a reader meets calls the original "the seed"."""
from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from pages import read_page, seeds_that_are_not_random_seeds

from mnistlib.report.publish import HEADLINES, README_BEGIN, README_END, readme_results

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARKDOWN = [README, ROOT / "CLUSTER.md", ROOT / "RECIPES.md", ROOT / "benchmarks" / "README.md"]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)|(?:href|src)=\"([^\"]+)\"")


def relative_links(path: Path) -> list[str]:
    """The links of a Markdown or HTML file that point into the repository (not the web, not data)."""
    links = [a or b for a, b in LINK.findall(path.read_text(encoding="utf-8"))]
    return [link for link in links if not re.match(r"[a-z]+:", link) and not link.startswith("//")]


def anchors(page: Path) -> set[str]:
    return {unquote(anchor) for anchor in re.findall(r'\bid="([^"]+)"', page.read_text(encoding="utf-8"))}


def broken(path: Path) -> list[str]:
    out = []
    for link in relative_links(path):
        target, _, anchor = unquote(link).partition("#")
        file = (path.parent / target).resolve() if target else path
        if not file.exists():
            out.append(f"{path.name}: {link} (no such file)")
        elif anchor and file.suffix == ".html" and anchor not in anchors(file):
            out.append(f"{path.name}: {link} (no such anchor)")
    return out


def test_readme_is_short_and_its_first_screen_is_what_a_newcomer_needs():
    text = README.read_text(encoding="utf-8")
    assert len(text) <= 15_000, len(text)
    first = "\n".join(text.splitlines()[:40])
    for needed in ('"MNIST 분류기 학습: LeNet5,\nCustomMLP"', "DRMBSGN/MNIST-Classification", "figures/full/05-",
                   "make report PROFILE=quick", "make report ", "(docs/index.html)", "```python"):
        assert needed in first, needed
    example = first.split("```python\n", 1)[1].split("```", 1)[0]
    assert len(example.strip().splitlines()) <= 5


def test_every_relative_link_resolves():
    pages = MARKDOWN + sorted((ROOT / "docs").glob("*.html"))
    assert not [problem for page in pages for problem in broken(page)]


def test_the_link_check_can_fail(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "there.html").write_text('<h2 id="here">x</h2>')
    page.write_text("[a](there.html#here) [b](there.html#gone) [c](missing.md) [d](https://example.org/x)")
    assert broken(page) == ["page.md: there.html#gone (no such anchor)", "page.md: missing.md (no such file)"]


@pytest.mark.docs
def test_readmes_results_are_the_published_reports():
    record = json.loads((ROOT / "docs" / HEADLINES).read_text(encoding="utf-8"))
    text = README.read_text(encoding="utf-8")
    block = text.split(README_BEGIN, 1)[1].split(README_END, 1)[0].strip()
    assert block == readme_results(record), "README's results are not docs/headlines.json's: run `make docs`"
    assert [page["page"] for page in record["pages"]] == sorted(p.name for p in (ROOT / "docs").glob("[0-9]*.html"))


def test_no_page_a_reader_meets_calls_the_original_the_seed():
    pages = MARKDOWN + sorted((ROOT / "docs").glob("*.html"))
    assert not [found for page in pages for found in seeds_that_are_not_random_seeds(page)]


@pytest.mark.docs
def test_the_published_tables_speak_words():
    from pages import unreadable_tables

    assert not [found for page in sorted((ROOT / "docs").glob("*.html")) for found in unreadable_tables(page)]
    assert all(read_page(page).text for page in (ROOT / "docs").glob("*.html"))
