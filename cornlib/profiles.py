"""Run profiles (``profiles/<name>.yml``): every size knob of a run, in one YAML mapping."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cornlib.paths import REPO_ROOT

PROFILE_DIR = REPO_ROOT / "profiles"


def profile_path(name_or_path: str | os.PathLike) -> Path:
    """Resolve a profile name (``small``) or a path to a YAML file."""
    p = Path(name_or_path)
    if p.suffix in {".yml", ".yaml"}:
        if not p.exists():
            raise FileNotFoundError(f"profile file {p} does not exist")
        return p
    p = PROFILE_DIR / f"{name_or_path}.yml"
    if not p.exists():
        known = ", ".join(sorted(q.stem for q in PROFILE_DIR.glob("*.yml")))
        raise FileNotFoundError(f"no profile named {name_or_path!r} (known: {known})")
    return p


def load(name_or_path: str | os.PathLike) -> dict[str, Any]:
    """Load a profile as a flat dict of notebook parameters."""
    import yaml

    path = profile_path(name_or_path)
    with open(path) as fh:
        data = yaml.safe_load(fh) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a profile must be a YAML mapping of parameter names to values")
    data.setdefault("profile", path.stem)
    return data
