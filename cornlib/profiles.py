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
    """Load a profile as a flat dict of notebook parameters.

    Local files it names (genomes, proteins, expression tables and sample sheets given as paths
    instead of URLs) are made absolute (a relative path is taken from the profile's folder) and
    checked to exist now, before any notebook runs (see :func:`local_files`).

    Raises:
        FileNotFoundError: a local file that does not exist, naming the profile, key and path.
    """
    import yaml

    path = profile_path(name_or_path, book)
    with open(path) as fh:
        data = yaml.safe_load(fh) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a profile must be a YAML mapping of parameter names to values")
    data.setdefault("profile", path.stem)
    try:
        local_files(data, base=path.resolve().parent)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"profile {path}: {err}") from None
    return data


def _local(value: Any, where: str, base: Path, found: dict[str, Path]) -> Any:
    """``value`` with a local path made absolute (checked); URLs and mappings' URLs kept."""
    from cornlib.data.filespec import is_url, local_path

    if isinstance(value, dict):
        key = "url" if "url" in value else "path" if "path" in value else None
        if key is None:
            return value
        return {**value, key: _local(value[key], where, base, found)}
    if not isinstance(value, (str, os.PathLike)) or is_url(str(value)):
        return value
    text = os.path.expanduser(os.fspath(value))
    if not text.startswith("file:") and not os.path.isabs(text):
        text = str(base / text)
    if "{line}" in text:
        return text
    found[where] = local_path(text, where)
    return str(found[where])


def local_files(data: dict[str, Any], base: str | os.PathLike = ".") -> dict[str, Path]:
    """Make the local file paths of a profile absolute (relative to ``base``) and check them.

    Looks at ``species[i].fasta``/``.gff`` (download specs), ``expression.url``/``path`` (each
    ``{line}``) and ``samples``, and ``protein_fasta.<species>`` (a path, or ``proteins``/``cds``).
    ``data`` is changed in place.

    Returns:
        ``{profile key: path}`` of every local file.

    Raises:
        FileNotFoundError: ``<key>: local file <path> does not exist``.
    """
    base = Path(base)
    found: dict[str, Path] = {}
    species = data.get("species")
    if isinstance(species, list):
        for i, spec in enumerate(species):
            if isinstance(spec, dict):
                name = spec.get("name", i)
                for key in ("fasta", "gff"):
                    if spec.get(key) is not None:
                        spec[key] = _local(spec[key], f"species[{i}] ({name}).{key}", base, found)
    expression = data.get("expression")
    if isinstance(expression, dict):
        for key in ("url", "path", "samples"):
            value = expression.get(key)
            if value is None:
                continue
            expression[key] = _local(value, f"expression.{key}", base, found)
            if isinstance(expression[key], str) and "{line}" in expression[key]:
                for line in expression.get("lines") or []:
                    _local(expression[key].replace("{line}", str(line)),
                           f"expression.{key} ({line})", base, found)
    proteins = data.get("protein_fasta")
    if isinstance(proteins, dict):
        for sp, value in proteins.items():
            if isinstance(value, dict) and not ({"url", "path"} & set(value)):
                proteins[sp] = {k: _local(v, f"protein_fasta.{sp}.{k}", base, found)
                                for k, v in value.items()}
            elif value is not None:
                proteins[sp] = _local(value, f"protein_fasta.{sp}", base, found)
    return found
