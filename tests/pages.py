"""What a reader sees of a report page or of README: its text, its tables, its contents list, and
every "seed" in it. Shared by the smoke report's tests and the published report's."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

# Phrasings in which "seed" is a random seed: each must match the text around the word.
RANDOM_SEED = re.compile(
    r"\d+ seeds|\d+-seed|seeds? \d|seeds? [0-9.]+[–-]|\bseed \{?[a-z]\b|across seeds|per seed|random seed|one seed each|"
    r"seed[- ]to[- ]seed|seed noise|seed spread|spread across seeds|seed ranges?|seed standard deviation|seeds?\)|"
    r"\(seeds?|seeded|every seed|over seeds|the seeds\b|more seeds|seeds?, |seeds? and|twice the seeds|"
    r"seeds?\.|a seed,|seed parameter|`seeds?`|seeds: |seeds?[:=]|same seed|other seed|its seed|fixed seed|"
    r"seed is only ever a random seed|between seeds|per-seed|pooled seeds|enough seeds|several seeds|"
    r"most seeds|share of seeds|'s seeds|their seeds|our (own |n )?seeds|repeats a seed|seeds vote|(lowest|highest) seed",
    re.I)
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")
PYTHON_VALUES = {"True", "False", "None", "nan", "NaN"}


class _Page(HTMLParser):
    """Text outside scripts and styles; table headers and cells; the contents list's entries."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text, self.headers, self.cells, self.contents = [], [], [], []
        self._skip = 0
        self._cell: list[str] | None = None
        self._toc = False
        self._list_tag = None
        self._entry: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("th", "td"):
            self._cell = [tag]
        elif tag == "nav" and "mnistlib-toc" in (attrs.get("class") or ""):
            self._toc = True
        elif self._toc and tag in ("ol", "ul"):
            self._list_tag = tag
        elif self._toc and tag == "li":
            self._entry = []

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1
        elif tag in ("th", "td") and self._cell is not None:
            kind, text = self._cell[0], "".join(self._cell[1:]).strip()
            (self.headers if kind == "th" else self.cells).append(text)
            self._cell = None
        elif tag == "nav":
            self._toc = False
        elif tag == "li" and self._entry is not None:
            self.contents.append((self._list_tag, "".join(self._entry).strip()))
            self._entry = None

    def handle_data(self, data):
        if self._skip:
            return
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._entry is not None:
            self._entry.append(data)


def read_page(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def page_text(path: Path) -> str:
    """The words of a page (HTML: outside scripts and styles) or of a Markdown file (as written)."""
    if path.suffix == ".html":
        return re.sub(r"\s+", " ", " ".join(read_page(path).text))
    return re.sub(r"\s+", " ", path.read_text(encoding="utf-8"))


def seeds_that_are_not_random_seeds(path: Path) -> list[str]:
    """Every "seed" of the page's text whose context is none of the random-seed phrasings, with its context."""
    text, found = page_text(path), []
    for match in re.finditer(r"seed", text, re.I):
        context = text[max(0, match.start() - 40):match.end() + 40]
        if not RANDOM_SEED.search(text[max(0, match.start() - 25):match.end() + 25]):
            found.append(f"{path.name}: …{context}…")
    return found


def unreadable_tables(path: Path) -> list[str]:
    """Table headers that are code names, cells that are Python values, contents entries numbered twice."""
    page, problems = read_page(path), []
    problems += [f"{path.name}: header {h!r}" for h in page.headers if SNAKE_CASE.match(h)]
    problems += [f"{path.name}: cell {c!r}" for c in page.cells if c in PYTHON_VALUES]
    problems += [f"{path.name}: contents entry {text!r} in a numbered list" for tag, text in page.contents
                 if tag == "ol" and re.match(r"\d", text)]
    return problems


class _Table(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows, self._cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("th", "td"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def html_table(html: str):
    """The first table of an HTML fragment (a DataFrame's ``to_html``) as a DataFrame: its header row the columns,
    the first cell of each row the index (rows with no values, such as the index's name, left out)."""
    import pandas as pd

    parser = _Table()
    parser.feed(html)
    header, *rows = [row for row in parser.rows if any(row[1:])]
    return pd.DataFrame([row[1:] for row in rows], index=[row[0] for row in rows], columns=header[1:])
