"""Where things live: the repository, the run directory of a profile, the download cache."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_dir(path: str | os.PathLike) -> Path:
    """Return the run directory ``path`` as an absolute path, creating it if needed.

    Notebooks call this on their ``run_dir`` parameter; a relative path is taken from the
    current directory (``notebooks/`` for the book and the driver).
    """
    p = Path(path).expanduser().resolve()
    p.mkdir(parents=True, exist_ok=True)
    return p


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """Return the cache directory for downloads and genome indexes, creating it if needed.

    ``None`` means ``$CORNLIB_CACHE`` if set, else the user cache (``~/.cache/cornlib``).
    """
    if path is None:
        env = os.environ.get("CORNLIB_CACHE")
        if env:
            path = env
        else:
            # platformdirs (a pooch dependency) without importing pooch, whose tqdm.auto
            # import warns inside notebooks when ipywidgets is absent.
            import platformdirs

            path = platformdirs.user_cache_dir("cornlib")
    p = Path(path).expanduser().resolve()
    p.mkdir(parents=True, exist_ok=True)
    return p


def shown(path: str | os.PathLike) -> str:
    """``path`` as a reader should see it: relative to the repository when inside it.

    Book pages print this instead of a ``PosixPath('/home/…')`` of the machine that built them.
    """
    p = Path(path).expanduser().resolve()
    for base in (REPO_ROOT, Path.cwd()):
        try:
            return p.relative_to(base).as_posix()
        except ValueError:
            continue
    return p.as_posix()
