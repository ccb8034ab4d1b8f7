"""The ``cornlib`` command line: ``cornlib init | promoters | predict | variants | run``."""

from __future__ import annotations

import argparse
import sys

PROMOTERS_EPILOG = """\
Coordinates in the output are 0-based, half-open; sequences read 5'->3' on the gene's strand.
The FASTA output has one record per promoter, headed '>GENE_ID species=.. loc=CHROM:START-END(STRAND)
flags=..'; the Parquet output has the columns of cornlib.data.promoters.COLUMNS. A compressed
FASTA is decompressed once into the cache (--cache-dir, $CORNLIB_CACHE or ~/.cache/cornlib).
"""


def _add_promoters(sub) -> None:
    from cornlib.data import promoters

    d = promoters.DEFAULTS
    p = sub.add_parser(
        "promoters", help="extract promoters from a genome FASTA and its GFF3 annotation",
        description="Extract promoters around the TSS of annotated genes (FloraBERT's method: "
                    "upstream flanks trimmed at neighbouring gene bodies).",
        epilog=PROMOTERS_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fasta", required=True, help="genome FASTA (plain, gzip or BGZF)")
    p.add_argument("--gff", required=True, help="GFF3 annotation (plain or gzip)")
    p.add_argument("-o", "--output", required=True,
                   help="output file: .fa/.fasta/.fna (FASTA) or .parquet (table)")
    p.add_argument("--upstream", type=int, default=d["upstream"],
                   help="bases before the TSS (%(default)s)")
    p.add_argument("--downstream", type=int, default=d["downstream"],
                   help="bases from the TSS on, TSS included (%(default)s)")
    p.add_argument("--trim-neighbours", action=argparse.BooleanOptionalAction,
                   default=d["trim_neighbours"],
                   help="cut the upstream flank at the nearest gene body, as FloraBERT (default: on)")
    p.add_argument("--min-length", type=int, default=d["min_length"],
                   help="drop shorter promoters (%(default)s)")
    p.add_argument("--max-n-fraction", type=float, default=d["max_n_fraction"],
                   help="drop promoters with a larger fraction of N (%(default)s)")
    p.add_argument("--edge-policy", choices=["drop", "flag"], default=d["edge_policy"],
                   help="windows clipped at a chromosome end: drop them or keep them flagged")
    p.add_argument("--soft-mask", choices=["upper", "keep"], default=d["soft_mask"],
                   help="upper-case soft-masked bases or keep them lowercase")
    p.add_argument("--iupac", choices=["to_n", "keep"], default=d["iupac"],
                   help="IUPAC ambiguity codes become N, or are kept")
    p.add_argument("--biotypes", nargs="+", default=list(d["biotypes"]), metavar="BIOTYPE",
                   help="biotypes that get promoters ('all' for every gene; default protein_coding)")
    p.add_argument("--max-genes", type=int, default=None, help="keep at most N, evenly spaced")
    p.add_argument("--species", default="genome", help="value of the species column")
    p.add_argument("--cache-dir", default=None, help="where decompressed FASTA and indexes go")
    p.set_defaults(func=promoters_command)


def promoters_command(args: argparse.Namespace) -> int:
    """Run ``cornlib promoters``: extract, write atomically, summarise on stderr."""
    from cornlib.data import promoters

    biotypes = None if [b.lower() for b in args.biotypes] == ["all"] else args.biotypes
    try:
        if not str(args.output).lower().endswith((".fa", ".fasta", ".fna", ".parquet")):
            raise ValueError(f"cannot tell the format of {args.output}: use a .fa/.fasta/.fna "
                             "or .parquet suffix")
        table, report = promoters.extract(
            args.fasta, args.gff, args.species, upstream=args.upstream,
            downstream=args.downstream, trim_neighbours=args.trim_neighbours,
            min_length=args.min_length, max_n_fraction=args.max_n_fraction,
            edge_policy=args.edge_policy, soft_mask=args.soft_mask, max_genes=args.max_genes,
            biotypes=biotypes, iupac=args.iupac, cache_dir=args.cache_dir)
        promoters.write(table, args.output)
    except (ValueError, FileNotFoundError) as err:
        print(f"cornlib promoters: error: {err}", file=sys.stderr)
        return 2
    print(summary(report, args.output), file=sys.stderr)
    return 0


def summary(report: dict, output: str) -> str:
    """A few lines: genes in, promoters out, drops and flags by reason."""
    dropped = ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in report["dropped"].items() if n)
    dropped = dropped or "none"
    flagged = ", ".join(f"{n} {f}" for f, n in report["flagged"].items() if n) or "none"
    return (f"cornlib promoters: {report['genes']} genes, {report['candidates']} candidates -> "
            f"{report['kept']} promoters written to {output}\n"
            f"  dropped: {dropped}\n  flagged: {flagged}\n  ({report['seconds']:.2f} s)")


INIT_EPILOG = """\
Expression layouts (--layout, default auto: read from the header):
  matrix           genes x tissues: a gene ID column, then one TPM column per tissue
  genes_x_samples  genes x samples (an RNA-seq pipeline's TPM matrix) with --samples SHEET:
                   columns sample, tissue[, replicate]; replicates averaged per tissue
  samples_x_genes  one row per sample: metadata (Cultivar, organism_part or tissue), then one
                   column per gene ID (FloraBERT's NAM files); replicates averaged per tissue
  nam_tpm          the NAM consortium's pan-gene tables (PanGeneID, Geneid, ... libraries)
Several species: repeat --fasta/--gff/--name (and --proteins) in the same order; one table
holds the genes of all of them. Then: cornlib run --profile PROFILE.yml
"""


def _add_init(sub) -> None:
    from cornlib.data.layouts import LAYOUTS

    p = sub.add_parser(
        "init", help="check your genome, annotation and TPM table; write a profile for them",
        description="Check a genome FASTA, its GFF3 and an expression table together (sequence "
                    "names, gene IDs, tissues and replicates, values), report the counts, and "
                    "write a profile with the small profile's settings and your files as local "
                    "paths.",
        epilog=INIT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("profile", help="the profile to write (PROFILE.yml)")
    p.add_argument("--fasta", action="append", required=True,
                   help="genome FASTA (plain, gzip or BGZF); repeat per species")
    p.add_argument("--gff", action="append", required=True,
                   help="GFF3 annotation of that genome; repeat per species")
    p.add_argument("--name", action="append", default=[],
                   help="short species key (letters, digits, _); repeat per species")
    p.add_argument("--proteins", action="append", default=[],
                   help="protein FASTA (for homology-aware splits); repeat per species")
    p.add_argument("--expression", required=True, help="the TPM table (.tsv/.csv, maybe .gz)")
    p.add_argument("--samples", help="sample sheet of a genes x samples table "
                                     "(sample, tissue[, replicate])")
    p.add_argument("--layout", default="auto", choices=["auto", *LAYOUTS],
                   help="the table's layout (default: detected)")
    p.add_argument("--min-tpm", type=float, default=None,
                   help="drop genes under this TPM in every tissue (default: 1 for samples_x_genes, "
                        "as FloraBERT; keep all for the others; 0 keeps all)")
    p.add_argument("--force", action="store_true", help="overwrite an existing profile")
    p.add_argument("--cache-dir", default=None, help="where decompressed FASTA and indexes go")
    p.set_defaults(func=init_command)


def init_command(args: argparse.Namespace) -> int:
    """Run ``cornlib init``: check everything, print the report, write the profile."""
    from cornlib import init

    try:
        species = init.species_list(args.fasta, args.gff, args.name, args.proteins)
        path, report = init.init(args.profile, species, args.expression, samples=args.samples,
                                 layout=args.layout, min_tpm=args.min_tpm, force=args.force,
                                 command=f"cornlib init {args.profile}",
                                 cache_dir=args.cache_dir)
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        print(f"cornlib init: error: {err}", file=sys.stderr)
        return 2
    print(init.format_report(report), file=sys.stderr)
    print(f"cornlib init: wrote {path}; run it with: cornlib run --profile {path}",
          file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from cornlib import __version__

    parser = argparse.ArgumentParser(
        prog="cornlib", description="Promoter-to-expression models of plant genes: check your "
        "data and write a profile (init), cut promoters, predict, score variants, run the book.")
    parser.add_argument("--version", action="version", version=f"cornlib {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_init(sub)
    _add_promoters(sub)

    from cornlib import predict, run, variants

    predict.add_parser(sub)
    variants.add_parser(sub)

    p_run = sub.add_parser(
        "run", help="run the book's notebooks with a profile (papermill)",
        description="Run the book's notebooks in _toc.yml order with a profile, and record "
                    "<run_dir>/manifest.json.",
        epilog=run.EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.build_parser(p_run)
    p_run.set_defaults(func=run.run_args)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the subcommand; return its exit status."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
