"""``cornlib predict``: expression predicted for promoters in a FASTA file, or for every gene of a
genome (its promoters cut with the model's own settings), written as one table."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import pandas as pd

from cornlib import CornlibWarning
from cornlib.data.promoters import PROMOTER_KEYS
from cornlib.sequence.windows import WINDOWS

#: Below this length a sequence gets a warning when no promoter settings are recorded.
SHORT = 100


def record_promoter_settings(config, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Record in a model's ``config`` how its training promoters were cut.

    Call it before ``save_pretrained``; ``cornlib predict --fasta/--gff`` and ``cornlib
    variants`` then cut a genome's promoters the same way.

    Args:
        config: the model's config (``model.config``; any object with attributes).
        settings: chapter 02's parameters: ``promoters_report.json``'s ``parameters`` (or the
            report itself), or the profile's values (``upstream``, ``downstream``, ...); keys
            other than :data:`PROMOTER_KEYS` are ignored.

    Returns:
        The recorded mapping (also ``config.promoter_settings``).

    Raises:
        ValueError: ``settings`` is not a mapping or records none of :data:`PROMOTER_KEYS`.
    """
    if isinstance(settings, Mapping) and isinstance(settings.get("parameters"), Mapping):
        settings = settings["parameters"]
    if not isinstance(settings, Mapping):
        raise ValueError(f"promoter settings must be a mapping, not {type(settings).__name__}")
    kept = {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in settings.items()
            if k in PROMOTER_KEYS}
    if not kept:
        raise ValueError(f"the promoter settings {sorted(settings)} hold none of "
                         f"{list(PROMOTER_KEYS)}")
    config.promoter_settings = kept
    return kept


def run_promoter_settings(run_dir: str | os.PathLike) -> dict[str, Any]:
    """Chapter 02's promoter settings of a run (``<run_dir>/promoters_report.json``).

    Raises:
        FileNotFoundError: the run has no ``promoters_report.json`` (chapter 02 not run).
    """
    from cornlib.io import read_json

    path = Path(run_dir) / "promoters_report.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: chapter 02 writes it (run it first)")
    params = read_json(path).get("parameters") or {}
    return {k: v for k, v in params.items() if k in PROMOTER_KEYS}


def record_in_folder(folder: str | os.PathLike, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Record promoter settings in a saved model folder's ``config.json`` (rewritten atomically),
    for a folder written before models recorded them.

    Args:
        folder: a model folder (``<run_dir>/finetune/<run>/model``).
        settings: as for :func:`record_promoter_settings` (e.g. :func:`run_promoter_settings`).
    """
    import json
    from types import SimpleNamespace

    from cornlib.io import write_json

    path = Path(folder) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{folder} holds no config.json")
    config = json.loads(path.read_text())
    holder = SimpleNamespace()
    config["promoter_settings"] = record_promoter_settings(holder, settings)
    write_json(path, config)
    return config["promoter_settings"]


def promoter_settings(model, *, warn: bool = False) -> dict[str, Any]:
    """How the model's training promoters were cut: the recorded settings, completed with the
    library defaults (:data:`cornlib.data.promoters.DEFAULTS`).

    Args:
        model: a predictor or model with a ``config``.
        warn: issue a :class:`cornlib.CornlibWarning` when the model records none.
    """
    from cornlib.data.promoters import DEFAULTS

    recorded = getattr(getattr(model, "config", None), "promoter_settings", None) or {}
    keep = {k: v for k, v in recorded.items() if k in DEFAULTS}
    out = {**{k: DEFAULTS[k] for k in ("upstream", "downstream", "trim_neighbours",
                                       "min_length", "max_n_fraction")}, **keep}
    if warn and not keep:
        warnings.warn(
            f"the model records no promoter settings (config.json 'promoter_settings' is "
            f"empty): promoters are cut with the library defaults {out}. If the model was "
            "trained on promoters cut otherwise, its predictions are off; record the run's with "
            "cornlib.predict.record_in_folder(MODEL_DIR, "
            "cornlib.predict.run_promoter_settings(RUN_DIR))", CornlibWarning, stacklevel=2)
    return out


def check_model_path(path: str | os.PathLike) -> Path:
    """A model folder as given on the command line, checked before loading.

    Raises:
        FileNotFoundError: the path does not exist (naming a close one that does), or it is a
            folder without ``config.json`` whose ``model/`` subfolder holds one (did you mean).
    """
    path = Path(path)
    if not path.exists():
        parent = next((p for p in path.absolute().parents if p.exists()), None)
        near = ""
        if parent is not None and len(parent.parts) > 2:  # never search / or /home
            found = sorted(q.parent for pattern in ("model/config.json", "*/model/config.json",
                                                    "*/*/model/config.json")
                           for q in parent.glob(pattern))[:3]
            near = (f"; model folders under {parent}: {', '.join(map(str, found))}" if found
                    else f" ({parent} exists, with no model folder inside)")
        raise FileNotFoundError(f"model folder {path} does not exist{near}")
    if path.is_dir() and not (path / "config.json").is_file():
        inside = sorted(q.parent for q in path.glob("*/config.json"))
        inside += sorted(q.parent for q in path.glob("*/*/config.json"))
        if inside:
            raise FileNotFoundError(f"{path} holds no config.json: did you mean {inside[0]}?"
                                    + (f" (also: {', '.join(map(str, inside[1:4]))})"
                                       if len(inside) > 1 else ""))
    return path


@contextlib.contextmanager
def progress_bars(show: bool) -> Iterator[None]:
    """Hide transformers' bars (its "Loading weights" bar included) unless ``show``."""
    if show:
        yield
        return
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()


def sequence_warnings(names: Sequence[str], seqs: Sequence[str], *, min_length: int = SHORT,
                      max_n_fraction: float = 0.5, max_length: int | None = None,
                      window: str = "tss", examples: int = 3) -> list[str]:
    """Warnings for inputs a model reads poorly: short, mostly N, or longer than its window.

    Returns:
        One line per kind found (count and examples); empty when all is well.
    """
    out = []
    lengths = [len(s) for s in seqs]
    short = [(n, k) for n, k in zip(names, lengths) if k < min_length]
    if short:
        shown = ", ".join(f"{n} ({k} bp)" for n, k in short[:examples])
        out.append(f"{len(short)} sequence(s) are shorter than {min_length} bp (e.g. {shown}): "
                   "a promoter of the model's training was at least that long")
    n_rich = [(n, s.upper().count("N") / max(len(s), 1)) for n, s in zip(names, seqs)]
    n_rich = [(n, f) for n, f in n_rich if f > max_n_fraction]
    if n_rich:
        shown = ", ".join(f"{n} ({f:.0%} N)" for n, f in n_rich[:examples])
        out.append(f"{len(n_rich)} sequence(s) are more than {max_n_fraction:.0%} N (e.g. "
                   f"{shown}): their predictions carry little information")
    if max_length:
        long = [(n, k) for n, k in zip(names, lengths) if k > max_length]
        if long:
            end = "5' end" if window == "tss" else "3' end (the TSS end)"
            shown = ", ".join(f"{n} ({k} bp, {k - max_length} dropped)"
                              for n, k in long[:examples])
            out.append(f"{len(long)} sequence(s) are longer than the model's window of "
                       f"{max_length} bp and are cut at their {end} (e.g. {shown}); --window "
                       "chooses the end kept")
    return out


def _window_bases(model) -> int | None:
    """The model's window in bases (CNN, hybrid), or ``None`` (token models read tokens)."""
    length = getattr(getattr(model, "config", None), "seq_length", None)
    return int(length) if isinstance(length, int) else None


def drop_summary(report: Mapping[str, Any]) -> str:
    """``N promoters of G genes (C protein-coding candidates); skipped: ...`` with reasons."""
    words = {"too_many_n": "too many N"}
    dropped = ", ".join(f"{n} {words.get(r, r.replace('_', ' '))}"
                        for r, n in report["dropped"].items() if n)
    return (f"{report['kept']} promoters of {report['genes']} genes ({report['candidates']} "
            f"candidates of the model's biotypes); skipped: {dropped or 'none'}")


def _load(model):
    from cornlib.models import predictor

    return predictor.as_predictor(model)


def from_fasta(model, fasta: str | os.PathLike, *, batch_size: int = 64, device: str = "auto",
               progress: bool | None = None, window: str = "tss") -> pd.DataFrame:
    """Predict every record of a promoter FASTA (plain or gzip); rows named by record.

    Short, mostly-N and over-long records get a :class:`cornlib.CornlibWarning` each kind
    (:func:`sequence_warnings`); ``df.attrs["warnings"]`` lists them.
    """
    from cornlib.data import fasta as fasta_io

    model = _load(model)
    names, seqs = fasta_io.read(fasta)
    settings = getattr(getattr(model, "config", None), "promoter_settings", None) or {}
    notes = sequence_warnings(names, seqs, min_length=int(settings.get("min_length", SHORT)),
                              max_length=_window_bases(model), window=window)
    for note in notes:
        warnings.warn(f"{fasta}: {note}", CornlibWarning, stacklevel=2)
    try:
        out = model.predict(seqs, names, batch_size=batch_size, device=device,
                            progress=progress)
    except ValueError as err:
        raise ValueError(f"{fasta}: {err}") from None
    out.attrs["warnings"] = notes
    return out


def from_genome(model, genome: str | os.PathLike,
                gff: str | os.PathLike, *, species: str = "genome", batch_size: int = 64,
                device: str = "auto", progress: bool | None = None,
                cache_dir: str | os.PathLike | None = None) -> tuple[pd.DataFrame, dict]:
    """Cut the promoters of every protein-coding gene of a genome with the model's settings and
    predict them; returns the table (rows named by gene) and the extraction report (its
    ``warnings`` list promoters longer than the model's window)."""
    from cornlib.data import promoters

    model = _load(model)
    settings = promoter_settings(model, warn=True)
    table, report = promoters.extract(genome, gff, species, cache_dir=cache_dir, **settings)
    if table.empty:
        raise ValueError(f"{gff}: no promoter could be cut from this genome "
                         f"(report: {report['dropped']})")
    report["warnings"] = sequence_warnings(
        table["gene_id"].tolist(), table["sequence"].tolist(), min_length=0,
        max_n_fraction=1.0, max_length=_window_bases(model))
    out = model.predict(table["sequence"].tolist(), table["gene_id"].tolist(),
                        batch_size=batch_size, device=device, progress=progress)
    out.index.name = "gene_id"
    return out, report


def write(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write predictions as a tab-separated table atomically (rows × targets, 6 decimals)."""
    from cornlib.io import atomic_path

    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", float_format="%.6g")
    return Path(path)


def command(args) -> int:
    """Run ``cornlib predict`` from parsed arguments; return the exit status."""
    stack, seen = contextlib.ExitStack(), []
    try:
        check_model_path(args.model)
        stack.enter_context(progress_bars(not args.no_progress))
        seen = stack.enter_context(warnings.catch_warnings(record=True))
        warnings.simplefilter("always", CornlibWarning)
        from cornlib.models import predictor

        model = predictor.load(args.model, window=args.window)
        if args.fasta or args.gff:
            if not (args.fasta and args.gff) or args.input:
                raise ValueError("give either a promoter FASTA, or --fasta GENOME with --gff "
                                 "GENES (not both)")
            table, report = from_genome(model, args.fasta, args.gff, species=args.species,
                                        batch_size=args.batch_size, device=args.device,
                                        progress=not args.no_progress, cache_dir=args.cache_dir)
            note = f"{drop_summary(report)}; cut with {promoter_settings(model)}"
            notes = report["warnings"]
        elif args.input:
            table = from_fasta(model, args.input, batch_size=args.batch_size,
                               device=args.device, progress=not args.no_progress,
                               window=args.window)
            note = f"{plural(len(table), 'sequence')} from {args.input}"
            notes = []
        else:
            raise ValueError("give a promoter FASTA, or --fasta GENOME --gff GENES")
        stack.close()
        _show(seen, notes, "cornlib predict")
        write(table, args.output)
    except (ValueError, FileNotFoundError) as err:
        stack.close()
        _show(seen, [], "cornlib predict")
        print(f"cornlib predict: error: {err}", file=sys.stderr)
        return 2
    units = model.units or "the units the model was trained on"
    print(f"cornlib predict: {note}; {plural(len(model.targets), 'target')} ({units}) -> "
          f"{args.output}", file=sys.stderr)
    return 0


def plural(n: int, word: str) -> str:
    """``1 variant``, ``2 variants``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def _show(seen, notes: Sequence[str], prog: str) -> None:
    """Print caught warnings (and extra notes) as ``PROG: warning: ...`` lines on stderr."""
    for w in seen:
        if issubclass(w.category, CornlibWarning):
            print(f"{prog}: warning: {w.message}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    for note in notes:
        print(f"{prog}: warning: {note}", file=sys.stderr)


def add_parser(sub) -> None:
    """The ``predict`` subcommand of ``cornlib``."""
    p = sub.add_parser(
        "predict", help="predict expression from promoters with a trained model",
        description="Predict every target (tissue) of a trained cornlib model — the fine-tuned "
                    "transformer or the CNN baseline — for each promoter of a FASTA file, or "
                    "for every protein-coding gene of a genome.",
        epilog="Output: a tab-separated table, one row per sequence (or gene), one column per "
               "target, in the model's units (log(TPM + 1) for the maize profile). Sequences "
               "longer than the model's window keep the bases nearest the TSS (--window).")
    p.add_argument("model", help="a saved model folder (e.g. runs/small/finetune/random_init/model)")
    p.add_argument("input", nargs="?", help="promoter FASTA (plain or gzip), 5'->3' ending at "
                                            "the TSS")
    p.add_argument("--fasta", help="genome FASTA: cut promoters from it (with --gff)")
    p.add_argument("--gff", help="GFF3 annotation of the genome")
    p.add_argument("--species", default="genome", help="species label for --fasta/--gff")
    add_run_options(p, batch_size=64)
    p.add_argument("--window", default="tss", choices=list(WINDOWS),
                   help="which end of a long sequence to keep (default: the TSS end)")
    p.set_defaults(func=command)


def add_run_options(p, *, batch_size: int) -> None:
    """The options every model-running subcommand shares: output, batch size, device, bar."""
    p.add_argument("-o", "--output", required=True, help="output table (.tsv)")
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--no-progress", action="store_true",
                   help="hide the progress bars (transformers' weight loading included)")
    p.add_argument("--cache-dir", default=None,
                   help="where decompressed genomes and indexes go (default: $CORNLIB_CACHE, "
                        "else ~/.cache/cornlib)")
