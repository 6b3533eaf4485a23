"""Where the non-Python parts of edgeloop live.

In a checkout (and an editable install) boards/, firmware/ and models/ sit at
the repository root; a wheel carries copies under edgeloop/_data. Callers ask
here instead of guessing paths, so both layouts work.
"""

from __future__ import annotations

import os
from pathlib import Path

_PKG = Path(__file__).resolve().parent
_DATA = _PKG / "_data"
_REPO = _PKG.parent.parent


def _root(name: str) -> Path:
    packaged = _DATA / name
    if packaged.exists():
        return packaged
    return _REPO / name


def boards_dir() -> Path:
    return _root("boards")


def firmware_dir() -> Path:
    return _root("firmware")


def models_dir() -> Path:
    return _root("models")


def node_project_dir() -> Path:
    """The folder holding package.json for the virtual board's npm package."""
    packaged = _DATA / "package.json"
    if packaged.exists():
        return _DATA
    return _REPO


def repo_root() -> Path | None:
    """The checkout this package runs from, if it runs from one."""
    return _REPO if (_REPO / "pyproject.toml").exists() else None


def cache_dir() -> Path:
    """edgeloop's cache root (mpy-cross output, native builds): EDGELOOP_CACHE_DIR, else the user's cache.

    Here rather than in deploy/ because native/ builds into it too and sits below deploy/."""
    env = os.environ.get("EDGELOOP_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("edgeloop"))
