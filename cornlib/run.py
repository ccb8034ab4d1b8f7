"""The papermill driver: run the book's notebooks in order with a profile, and record a manifest.

Usage::

    python -m cornlib.run --profile small            # every notebook, runs/small/
    python -m cornlib.run --profile full --only 05 06
    python -m cornlib.run --profile small -p max_genes=500
    python -m cornlib.run --profile small --only 02 --rerun-stale

Each notebook is executed from its MyST source (``notebooks/NN_topic.md``) with the profile's
values for the parameters its ``parameters`` cell declares; the executed copy is written to
``<run_dir>/NN_topic.ipynb`` and its artifacts under ``<run_dir>``. A profile or ``-p`` key that no
notebook declares (and that is not a driver key, :data:`DRIVER_KEYS`) stops the run before any
notebook starts. The book is found by :func:`cornlib.paths.find_book`.

``<run_dir>/manifest.json`` accumulates over runs, partial ones included:

* ``notebooks``: one record per notebook, from the run that last executed it: its parameters,
  git SHA, status, wall time, and the fingerprints (size, mtime, SHA-256) of the run-directory
  files it may have read (``inputs``) and the ones it wrote (``outputs``);
* ``history``: one record per driver run (profile, parameters, git SHA, package versions, which
  notebooks it ran, status);
* ``files``: the last seen fingerprint of every run-directory file and the notebook that wrote it.

After a run the driver reports the notebooks whose inputs have changed since they ran
(:func:`stale`); ``--rerun-stale`` reruns them in order.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterable

from cornlib import io, paths, profiles
from cornlib.manifest import (
    git_sha,
    now,
    provenance,
    read_manifest,
    record_files,
    relative,
    snapshot,
    stale,
    stale_message,
    start_run,
)
from cornlib.paths import REPO_ROOT

#: Profile keys the driver itself reads; every other key must be declared by some notebook.
DRIVER_KEYS = frozenset({"profile", "run_dir"})


class NotebookFailed(RuntimeError):
    """A notebook raised during a driver run."""


class UnknownParameter(ValueError):
    """A profile or ``-p`` key that no notebook of the book declares."""


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


def read_notebook(path: Path):
    """Read a MyST notebook with jupytext; a missing file names ``_toc.yml``."""
    import jupytext

    if not path.exists():
        raise FileNotFoundError(f"{path} is listed in _toc.yml but does not exist")
    return jupytext.read(path)


def declared_parameters(nb) -> list[str]:
    """Names assigned in the notebook's cell tagged ``parameters``."""
    import copy

    from papermill.inspection import _infer_parameters

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.metadata.setdefault("tags", [])
    return [p.name for p in _infer_parameters(nb)]


def known_parameters(notebook_paths: Iterable[Path]) -> set[str]:
    """The parameters some notebook of ``notebook_paths`` declares, plus :data:`DRIVER_KEYS`.

    Raises:
        ValueError: a notebook without a ``parameters`` cell (naming it).
    """
    known = set(DRIVER_KEYS)
    for path in notebook_paths:
        declared = declared_parameters(read_notebook(path))
        if not declared:
            raise ValueError(f"{path}: no cell tagged 'parameters'")
        known.update(declared)
    return known


def unknown_parameters(keys: Iterable[str], known: Iterable[str]) -> dict[str, str | None]:
    """Each key not in ``known``, with the closest known key (or ``None``)."""
    known = sorted(known)
    return {k: next(iter(difflib.get_close_matches(k, known, n=1)), None)
            for k in keys if k not in known}


def check_parameters(profile: dict[str, Any], overrides: dict[str, Any], known: Iterable[str],
                     profile_file: str | os.PathLike = "the profile",
                     toc: str | os.PathLike = "_toc.yml") -> None:
    """Refuse profile and ``-p`` keys that no notebook declares (``known``).

    Raises:
        UnknownParameter: naming each unknown key, where it came from and the closest known key.
    """
    known = set(known)
    problems = [(k, f"in {profile_file}", near)
                for k, near in unknown_parameters(profile, known).items()]
    problems += [(k, "from -p", near) for k, near in unknown_parameters(overrides, known).items()]
    if problems:
        many = len(problems) > 1
        said = ", ".join(f"{k!r} ({where}; "
                         + (f"did you mean {near!r}?)" if near else "no close match)")
                         for k, where, near in problems)
        raise UnknownParameter(
            f"unknown parameter{'s' if many else ''} {said}: no notebook in {toc} declares "
            f"{'them' if many else 'it'} in its parameters cell, and the driver's own keys are "
            f"{', '.join(sorted(DRIVER_KEYS))}")


# --- running ----------------------------------------------------------------------------------

#: What the kernels the driver starts get in their environment (progress bars off unless
#: asked for, the inline Matplotlib backend).
KERNEL_ENV = {"TQDM_DISABLE": "1", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}


@contextlib.contextmanager
def _kernel_env():
    """The kernels the driver starts read like a page: ``TQDM_DISABLE=1`` unless it is set (a
    progress bar in an executed notebook is only a pile of frames; bars stay at a terminal and
    in Jupyter, which do not run through here), and the inline Matplotlib backend whatever
    ``MPLBACKEND`` the caller has (with ``Agg``, say, no figure would reach the notebook)."""
    saved = {k: os.environ.get(k) for k in KERNEL_ENV}
    os.environ["MPLBACKEND"] = KERNEL_ENV["MPLBACKEND"]
    os.environ.setdefault("TQDM_DISABLE", KERNEL_ENV["TQDM_DISABLE"])
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_notebook(path: Path, run_dir: Path, params: dict[str, Any], *, progress: bool = True,
                 timeout: int | None = None, kernel: str = "python3",
                 book: Path | None = None) -> dict[str, Any]:
    """Execute one MyST notebook with ``params`` into ``run_dir``; return its manifest entry.

    Only the parameters its ``parameters`` cell declares are passed. The executed copy is written
    as ``<stem>.partial.ipynb`` while it runs, renamed to ``<stem>.ipynb`` on success and
    ``<stem>.failed.ipynb`` on failure. ``book`` (default: the checkout) only shortens the
    notebook path recorded in the entry.

    Raises:
        NotebookFailed: naming the notebook, the failing cell and the error.
    """
    import papermill as pm

    nb = read_notebook(path)
    wanted = declared_parameters(nb)
    if not wanted:
        raise ValueError(f"{path}: no cell tagged 'parameters'")
    given = {k: v for k, v in params.items() if k in wanted}
    given["run_dir"] = str(run_dir)
    partial = run_dir / f"{path.stem}.partial.ipynb"
    final = run_dir / f"{path.stem}.ipynb"
    entry: dict[str, Any] = {"notebook": relative(path, book or REPO_ROOT), "output": final.name,
                             "parameters": given, "started": now()}
    t0 = time.perf_counter()
    try:
        with _kernel_env():
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


def run_recorded(path: Path, run_dir: Path, params: dict[str, Any], manifest: dict[str, Any],
                 run: dict[str, Any], book: Path, **kwargs: Any) -> dict[str, Any]:
    """:func:`run_notebook` between two snapshots of ``run_dir``; record it in ``manifest``.

    The entry (failed ones too) gets the run's git SHA and profile and the notebook's
    :func:`provenance`; the manifest is written after every notebook.
    """
    stem = path.stem
    owners = {f: rec.get("by") for f, rec in manifest["files"].items()}
    before = snapshot(run_dir, manifest["files"])
    entry: dict[str, Any] = {"notebook": relative(path, book), "started": now()}
    try:
        entry = run_notebook(path, run_dir, params, book=book, **kwargs)
    except NotebookFailed as err:
        entry.update(status="failed", error=str(err))
        raise
    except BaseException as err:
        entry.update(status="interrupted", error=f"{type(err).__name__}: {err}")
        raise
    finally:
        after = snapshot(run_dir, before)
        prov = provenance(stem, before, after, owners)
        entry.update(git_sha=run["git_sha"], profile=run["profile"], run=run["run"], **prov)
        manifest["notebooks"][stem] = entry
        record_files(manifest, stem, after, prov["outputs"])
        run["notebooks"].append(stem)
        io.write_json(run_dir / "manifest.json", manifest)
    return entry


def resolve_run_dir(run_dir: str | os.PathLike, book: Path) -> Path:
    """``run_dir`` as an absolute path; a relative one is taken from the book root."""
    rd = Path(run_dir).expanduser()
    return rd if rd.is_absolute() else book / rd


def run_profile(profile: str, *, only: Iterable[str] | None = None,
                overrides: dict[str, Any] | None = None, run_dir: str | None = None,
                progress: bool = True, timeout: int | None = None,
                book: str | os.PathLike | None = None, rerun_stale: bool = False) -> Path:
    """Run the notebooks of ``_toc.yml`` with a profile; return the manifest path.

    ``book`` is resolved by :func:`cornlib.paths.find_book`; profile names are looked up in its
    ``profiles/``. Unknown parameter keys stop the run before anything is written. Afterwards the
    stale notebooks (:func:`stale`) are reported, or rerun in order with ``rerun_stale``.

    Raises:
        cornlib.paths.BookNotFound, UnknownParameter, ValueError, FileNotFoundError: before any
            notebook runs.
        NotebookFailed: a notebook failed; the manifest records it.
    """
    book = paths.find_book(book)
    overrides = dict(overrides or {})
    params = profiles.load(profile, book)
    profile_file = profiles.profile_path(profile, book)
    toc = notebooks(book)
    todo = select(toc, only)
    check_parameters(params, overrides, known_parameters(toc), relative(profile_file, book),
                     book / "_toc.yml")
    params.update(overrides)
    rd = resolve_run_dir(run_dir or params.get("run_dir") or f"runs/{params['profile']}", book)
    rd.mkdir(parents=True, exist_ok=True)
    params["run_dir"] = str(rd)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    manifest_path = rd / "manifest.json"
    manifest = read_manifest(rd)
    run = start_run(manifest, profile=params["profile"], profile_file=str(profile_file),
                    book=str(book), only=list(only) if only else None, overrides=overrides,
                    parameters=params, git_sha=git_sha(book))
    kwargs = {"progress": progress, "timeout": timeout}
    try:
        for path in todo:
            _run_one(path, rd, params, manifest, run, book, kwargs)
        if rerun_stale:
            for path in toc:
                if path.stem in stale(rd).notebooks:
                    print(f"[cornlib.run] {path.stem} is stale: rerunning it", file=sys.stderr)
                    _run_one(path, rd, params, manifest, run, book, kwargs)
        run["status"] = "ok"
    except NotebookFailed:
        run["status"] = "failed"
        raise
    except BaseException:
        run["status"] = "interrupted"
        raise
    finally:
        run["finished"] = now()
        io.write_json(manifest_path, manifest)
    report = stale(rd)
    if report.notebooks:
        print(f"[cornlib.run] {stale_message(report)}", file=sys.stderr)
    return manifest_path


def _run_one(path, rd, params, manifest, run, book, kwargs) -> None:
    print(f"[cornlib.run] {path.stem} -> {rd / (path.stem + '.ipynb')}", file=sys.stderr)
    entry = run_recorded(path, rd, params, manifest, run, book, **kwargs)
    print(f"[cornlib.run] {path.stem} done in {entry['wall_s']:.1f} s", file=sys.stderr)


# --- command line -------------------------------------------------------------------------

EPILOG = f"""\
The book (the folder of _toc.yml, profiles/ and notebooks/) is --book DIR, else ${paths.BOOK_ENV},
else the nearest folder at or above the current directory holding _toc.yml and profiles/, else
the checkout cornlib is installed from. Profile names are looked up in <book>/profiles/; a relative
run_dir is taken from the book root.

Every profile and -p key must be a parameter that some notebook declares in its parameters
cell, or a driver key ({', '.join(sorted(DRIVER_KEYS))}). <run_dir>/manifest.json keeps one record
per notebook across partial runs, with fingerprints of the files it read and wrote; after a run
the driver names the notebooks whose inputs changed since they ran (--rerun-stale reruns them).

Exit status: 0 done, 1 a notebook failed, 2 the run could not start (no book, an unknown profile
or parameter, --only matching no notebook).
"""


def _parse_override(text: str) -> tuple[str, Any]:
    import yaml

    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), yaml.safe_load(value)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Arguments of ``python -m cornlib.run`` (also ``cornlib run``)."""
    parser = parser or argparse.ArgumentParser(
        prog="python -m cornlib.run", description=__doc__.split("\n")[0], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="small",
                        help="profile name in <book>/profiles/ (small, tiny, full) or a path to a "
                             "YAML file (default: %(default)s)")
    parser.add_argument("--book", metavar="DIR",
                        help=f"the book folder (with _toc.yml, profiles/, notebooks/); default: "
                             f"${paths.BOOK_ENV}, else found from the current directory")
    parser.add_argument("--only", nargs="+", metavar="NN",
                        help="run only these notebooks (prefixes such as 02 or 02_promoters)")
    parser.add_argument("--run-dir", metavar="DIR",
                        help="override the profile's run_dir (relative: from the book root)")
    parser.add_argument("-p", "--param", action="append", type=_parse_override, default=[],
                        metavar="KEY=VALUE",
                        help="override one parameter (YAML value); repeatable; KEY must be "
                             "declared by a notebook")
    parser.add_argument("--rerun-stale", action="store_true",
                        help="afterwards, rerun in order the notebooks whose inputs changed since "
                             "they ran")
    parser.add_argument("--timeout", type=int, default=None, metavar="S",
                        help="per-cell timeout in seconds (default: none)")
    parser.add_argument("--no-progress", action="store_true", help="hide papermill's progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_args(build_parser().parse_args(argv))


def run_args(args: argparse.Namespace) -> int:
    """Run what :func:`build_parser`'s arguments ask for; return the exit status."""
    try:
        manifest = run_profile(args.profile, only=args.only, overrides=dict(args.param),
                               run_dir=args.run_dir, progress=not args.no_progress,
                               timeout=args.timeout, book=getattr(args, "book", None),
                               rerun_stale=getattr(args, "rerun_stale", False))
    except NotebookFailed as err:
        print(f"cornlib.run: error: {err}", file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError) as err:
        print(f"cornlib.run: error: {err}", file=sys.stderr)
        return 2
    print(f"[cornlib.run] manifest: {manifest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
