"""Where things live: the repository, the book the driver runs, run directories, the cache."""

from __future__ import annotations

import os
from pathlib import Path

#: The folder above the ``cornlib`` package (the repository root in a checkout).
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


BOOK_ENV = "CORNLIB_BOOK"


class BookNotFound(FileNotFoundError):
    """No book folder (``_toc.yml`` with ``profiles/``) could be found for the driver."""


def is_book(path: str | os.PathLike) -> bool:
    """Whether ``path`` holds a book: a ``_toc.yml`` and a ``profiles/`` folder."""
    p = Path(path)
    return (p / "_toc.yml").is_file() and (p / "profiles").is_dir()


def find_book(book: str | os.PathLike | None = None, *,
              cwd: str | os.PathLike | None = None) -> Path:
    """The root of the book the driver runs (the folder of ``_toc.yml``), as an absolute path.

    In order: ``book`` (``--book DIR``), else ``$CORNLIB_BOOK``, else the nearest folder at or
    above ``cwd`` (default: the current directory) holding ``_toc.yml`` and ``profiles/``, else
    :data:`REPO_ROOT` when cornlib runs from a checkout (an editable install).

    Raises:
        BookNotFound: an explicit ``book`` or ``$CORNLIB_BOOK`` without ``_toc.yml``, or no book.
    """
    for given, how in ((book, "--book"), (os.environ.get(BOOK_ENV) or None, f"${BOOK_ENV}")):
        if given is not None:
            p = Path(given).expanduser().resolve()
            if not (p / "_toc.yml").is_file():
                raise BookNotFound(f"{how} {p} is not a book folder: it has no _toc.yml (a book "
                                   "folder holds _toc.yml, profiles/ and notebooks/)")
            return p
    here = Path(cwd or Path.cwd()).expanduser().resolve()
    for folder in (here, *here.parents):
        if is_book(folder):
            return folder
    if (REPO_ROOT / "_toc.yml").is_file():
        return REPO_ROOT
    raise BookNotFound(
        f"no book found: no folder at or above {here} holds _toc.yml and profiles/, "
        f"${BOOK_ENV} is not set, and cornlib is installed in {REPO_ROOT}, not run from a "
        f"checkout of the repository. Point the driver at the book folder (a clone of the "
        f"cornlib repository, the one with _toc.yml, profiles/ and notebooks/) with --book DIR, "
        f"or set {BOOK_ENV}=DIR, or run it from inside that folder.")
