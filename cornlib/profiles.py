"""Run profiles (``<book>/profiles/<name>.yml``): every size knob of a run, in one YAML mapping."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cornlib.paths import REPO_ROOT

#: The checkout's profiles folder, ``REPO_ROOT / "profiles"``.
PROFILE_DIR = REPO_ROOT / "profiles"


def profile_dir(book: str | os.PathLike | None = None) -> Path:
    """The profiles folder of ``book`` (default: the checkout's, :data:`PROFILE_DIR`)."""
    return PROFILE_DIR if book is None else Path(book) / "profiles"


def profile_path(name_or_path: str | os.PathLike, book: str | os.PathLike | None = None) -> Path:
    """Resolve a profile name (``small``: ``<book>/profiles/small.yml``) or a YAML file path."""
    p = Path(name_or_path)
    if p.suffix in {".yml", ".yaml"}:
        if not p.exists():
            raise FileNotFoundError(f"profile file {p} does not exist")
        return p
    folder = profile_dir(book)
    p = folder / f"{name_or_path}.yml"
    if not p.exists():
        if not folder.is_dir():
            raise FileNotFoundError(f"no profile named {name_or_path!r}: there is no profiles "
                                    f"folder {folder}")
        known = ", ".join(sorted(q.stem for q in folder.glob("*.yml"))) or "none"
        raise FileNotFoundError(f"no profile named {name_or_path!r} in {folder} (known: {known})")
    return p


def load(name_or_path: str | os.PathLike, book: str | os.PathLike | None = None) -> dict[str, Any]:
    """Load a profile as a flat dict of notebook parameters."""
    import yaml

    path = profile_path(name_or_path, book)
    with open(path) as fh:
        data = yaml.safe_load(fh) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a profile must be a YAML mapping of parameter names to values")
    data.setdefault("profile", path.stem)
    return data
