"""Publish an executed report: its HTML pages copied into a folder of the repository (``docs/``),
with a record of the commit and the notebooks that made it, so readers need not run anything.

    mnistlib report --profile full --publish docs      # what `make docs` runs

``docs/PROVENANCE.json`` holds the commit, whether the working tree had changes, a hash of
``notebooks/`` and the profile; ``docs/headlines.json`` each page's title and headline numbers, from
which README's results are generated (:func:`readme_results`; a test holds them equal). ``tests/test_published.py`` fails when the notebooks have
changed since, so the published copy cannot silently go stale, and when it outgrows
:data:`MAX_BYTES`. Publishing builds the new copy beside the old one and swaps them at the end:
a failure leaves the old copy as it was.
"""
from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from .. import paths
from .._version import __version__
from ..errors import MnistlibError

MAX_BYTES = 15 * 1024 * 1024  # what a repository should carry for one report
PROVENANCE = "PROVENANCE.json"
HEADLINES = "headlines.json"
README_BEGIN = "<!-- results: generated from docs/headlines.json by `make docs`; do not edit by hand -->"
README_END = "<!-- results: end -->"


def notebooks_hash(folder: Path | None = None) -> str:
    """SHA-256 over the report's notebooks (names and bytes, in order): what made the pages."""
    folder = folder or paths.project_root() / "notebooks"
    digest = hashlib.sha256()
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=paths.project_root(), capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def folder_bytes(folder: Path) -> int:
    """Total size of the files under ``folder``."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def headlines(report: Path) -> dict:
    """Each page of ``report`` in order: its page, title and headline numbers (``headlines/*.json``)."""
    pages = []
    for page in sorted(report.glob("[0-9][0-9]_*.html")):
        title = re.search(r"<title>(.*?)</title>", page.read_text(encoding="utf-8"), re.S)
        numbers = report / "headlines" / f"{page.stem}.json"
        pages.append({"page": page.name, "title": html.unescape(title.group(1).strip()) if title else page.stem,
                      "headline": json.loads(numbers.read_text()) if numbers.exists() else {}})
    return {"pages": pages}


def _value(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def readme_results(record: dict, folder: str = "docs") -> str:
    """README's results: one line per page of a :func:`headlines` record, linked to the page."""
    lines = [f"- **[{page['title']}]({folder}/{page['page']})**: "
             + "; ".join(f"{key}: {_value(value)}" for key, value in page["headline"].items()) + "."
             for page in record["pages"] if page["headline"]]
    return "\n".join(lines)


def update_readme(readme: Path, record: dict) -> bool:
    """Replace README's results block (between :data:`README_BEGIN` and :data:`README_END`) with
    :func:`readme_results`; False when README has no such block."""
    text = readme.read_text(encoding="utf-8")
    if README_BEGIN not in text or README_END not in text:
        return False
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(f"{head}{README_BEGIN}\n{readme_results(record)}\n{README_END}{tail}", encoding="utf-8")
    return True


def publish(report: Path, dest: Path, profile: str, readme: Path | None = None) -> Path:
    """Copy the report in ``report`` (its ``index.html``, pages and widget JavaScript) to ``dest``
    with ``headlines.json`` and ``PROVENANCE.json``; returns ``dest``. ``readme``: a README whose
    results block is then generated from the same headlines. Raises MnistlibError (one line) when the
    report is incomplete or larger than :data:`MAX_BYTES`, leaving ``dest`` as it was."""
    report, dest = Path(report), Path(dest)
    if not (report / "index.html").exists():
        raise MnistlibError(f"{report}: no index.html to publish; run the report first (mnistlib report)")
    staging = dest.with_name(dest.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for page in sorted(report.glob("*.html")):
        shutil.copy(page, staging / page.name)
    if (report / "widgets").is_dir():
        shutil.copytree(report / "widgets", staging / "widgets")
    record = headlines(report)
    (staging / HEADLINES).write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    size = folder_bytes(staging)
    if size > MAX_BYTES:
        shutil.rmtree(staging)
        raise MnistlibError(f"{report}: {size / 2**20:.1f} MB is over the {MAX_BYTES / 2**20:.0f} MB a published "
                            f"report may take; shrink its figures or widgets, then publish again")
    changed = _git("status", "--porcelain", "--", "mnistlib", "notebooks")
    provenance = {"profile": profile, "commit": _git("rev-parse", "HEAD"), "uncommitted_changes": bool(changed),
              "notebooks_sha256": notebooks_hash(), "mnistlib": __version__, "bytes": size,
              "made": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    (staging / PROVENANCE).write_text(json.dumps(provenance, indent=1) + "\n", encoding="utf-8")
    old = dest.with_name(dest.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        dest.rename(old)
    staging.rename(dest)
    shutil.rmtree(old, ignore_errors=True)
    if readme is not None:
        update_readme(readme, record)
    return dest
