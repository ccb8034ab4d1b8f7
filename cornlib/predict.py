"""``cornlib predict``: expression predicted for promoters in a FASTA file, or for every gene of a
genome (its promoters cut with the model's own settings), written as one table."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from cornlib.sequence.windows import WINDOWS


def promoter_settings(model) -> dict[str, Any]:
    """How the model's training promoters were cut (the library defaults if not recorded)."""
    from cornlib.data.promoters import DEFAULTS

    recorded = getattr(getattr(model, "config", None), "promoter_settings", None) or {}
    keep = {k: v for k, v in recorded.items() if k in DEFAULTS}
    return {**{k: DEFAULTS[k] for k in ("upstream", "downstream", "trim_neighbours",
                                        "min_length", "max_n_fraction")}, **keep}


def _load(model):
    from cornlib.models import predictor

    return predictor.as_predictor(model)


def from_fasta(model, fasta: str | os.PathLike, *, batch_size: int = 64, device: str = "auto",
               progress: bool | None = None) -> pd.DataFrame:
    """Predict every record of a promoter FASTA (plain or gzip); rows named by record."""
    from cornlib.data import fasta as fasta_io

    model = _load(model)
    names, seqs = fasta_io.read(fasta)
    try:
        return model.predict(seqs, names, batch_size=batch_size, device=device,
                             progress=progress)
    except ValueError as err:
        raise ValueError(f"{fasta}: {err}") from None


def from_genome(model, genome: str | os.PathLike,
                gff: str | os.PathLike, *, species: str = "genome", batch_size: int = 64,
                device: str = "auto", progress: bool | None = None,
                cache_dir: str | os.PathLike | None = None) -> tuple[pd.DataFrame, dict]:
    """Cut the promoters of every protein-coding gene of a genome with the model's settings and
    predict them; returns the table (rows named by gene) and the extraction report."""
    from cornlib.data import promoters

    model = _load(model)
    table, report = promoters.extract(genome, gff, species, cache_dir=cache_dir,
                                      **promoter_settings(model))
    if table.empty:
        raise ValueError(f"{gff}: no promoter could be cut from this genome "
                         f"(report: {report['dropped']})")
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
    try:
        from cornlib.models import predictor

        model = predictor.load(args.model, window=args.window)
        if args.fasta or args.gff:
            if not (args.fasta and args.gff) or args.input:
                raise ValueError("give either a promoter FASTA, or --fasta GENOME with --gff "
                                 "GENES (not both)")
            table, report = from_genome(model, args.fasta, args.gff, species=args.species,
                                        batch_size=args.batch_size, device=args.device,
                                        progress=not args.no_progress)
            note = (f"{report['kept']} promoters of {report['genes']} genes cut with "
                    f"{promoter_settings(model)}")
        elif args.input:
            table = from_fasta(model, args.input, batch_size=args.batch_size,
                               device=args.device, progress=not args.no_progress)
            note = f"{len(table)} sequences from {args.input}"
        else:
            raise ValueError("give a promoter FASTA, or --fasta GENOME --gff GENES")
        write(table, args.output)
    except (ValueError, FileNotFoundError) as err:
        print(f"cornlib predict: error: {err}", file=sys.stderr)
        return 2
    units = model.units or "the units the model was trained on"
    print(f"cornlib predict: {note}; {len(model.targets)} targets ({units}) -> {args.output}",
          file=sys.stderr)
    return 0


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
    p.add_argument("model", help="a saved model folder (e.g. runs/small/finetune/model)")
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
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
