"""The JavaScript that draws saved widget state in the HTML report, kept on disk, never a CDN.

``python -m mnistlib.report.webassets`` (run by ``make setup``) fetches ``@jupyter-widgets/html-manager``
with npm once into ``<env>/share/mnistlib/html-manager/``. The report copies it beside its pages
(``reports/<profile>/widgets/``) so they open offline. Without npm the report still works: its
widgets then show in the HTML through their static twins only, and the report says so.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "@jupyter-widgets/html-manager@1.0.15"  # the manager of ipywidgets 8 (widget state v2)
BUNDLE = "embed.js"  # renders every saved widget view on page load; needs no require.js
# The bundle's CSS imports a web font from Google; offline that is a failed request, and the
# widgets look the same without it.
WEB_FONT_IMPORT = re.compile(r"@import url\(\\?['\"]?https://fonts\.googleapis\.com/[^)]*\);?")


def asset_dir() -> Path:
    """Where the html-manager files live in this environment."""
    return Path(sys.prefix) / "share" / "mnistlib" / "html-manager"


def installed() -> bool:
    return (asset_dir() / BUNDLE).exists()


def install(force: bool = False) -> Path:
    """Fetch the html-manager package with ``npm pack`` and keep its browser bundle and fonts."""
    target = asset_dir()
    if installed() and not force:
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm not found; install Node.js (apt-get install npm) to draw widgets in the HTML report")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([npm, "pack", "--silent", PACKAGE], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        (archive,) = Path(tmp).glob("*.tgz")
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        dist = Path(tmp) / "package" / "dist"
        staging = target.with_name(target.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for path in dist.iterdir():
            if path.name == BUNDLE or path.suffix in (".woff", ".woff2", ".ttf", ".eot", ".svg") \
                    or path.name == f"{BUNDLE}.LICENSE.txt":
                shutil.copy(path, staging / path.name)
        for name in ("LICENSE", "package.json"):  # the package's BSD-3 licence is in its metadata
            if (Path(tmp) / "package" / name).exists():
                shutil.copy(Path(tmp) / "package" / name, staging / name)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)  # all or nothing: a half-copied folder is never taken for an install
    return target


def copy_to(folder: Path) -> str | None:
    """Copy the bundle (without its web-font import) and fonts into ``folder/widgets``; returns the
    bundle's path relative to ``folder``, or None when the assets are not installed."""
    if not installed():
        return None
    out = folder / "widgets"
    out.mkdir(parents=True, exist_ok=True)
    for path in asset_dir().iterdir():
        if path.name == BUNDLE:
            text = WEB_FONT_IMPORT.sub("", path.read_text(encoding="utf-8"))
            (out / BUNDLE).write_text(text, encoding="utf-8")
        else:
            shutil.copy(path, out / path.name)
    return f"widgets/{BUNDLE}"


if __name__ == "__main__":
    try:
        print(f"widget JavaScript for HTML reports: {install()}")
    except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
        # Not fatal: the report falls back to static figures.
        print(f"note: widget JavaScript not installed ({exc}); HTML reports show static figures only")
