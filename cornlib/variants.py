"""``cornlib variants``: the predicted effect of SNVs (a VCF or a table) on the promoters they
fall in, through any :class:`cornlib.models.predictor.Predictor`.

Variants are 1-based (``pos``, as in VCF) on the forward strand of the genome; a variant inside a
promoter window becomes one row per gene, its ``offset`` counted from the promoter's 5' end
(``pos0 - start`` on ``+``, ``end - 1 - pos0`` on ``-``, bases complemented) and its
``tss_offset`` as in :func:`cornlib.data.simulate.tss_index` (negative upstream). Every variant
gets a ``status`` (:data:`STATUSES`); none is dropped silently.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from cornlib.vcf import (  # noqa: F401  (re-exported: cornlib.variants.read_vcf etc.)
    COLUMNS,
    STATUSES,
    check_contigs,
    check_vcf,
    read_table,
    read_vcf,
    write_vcf,
)

__all__ = ["COLUMNS", "STATUSES", "add_parser", "check_contigs", "check_vcf", "command",
           "locate", "read_table", "read_vcf", "run", "score", "simulated_variants", "summary",
           "true_site_mask", "write", "write_vcf"]
_COMP = str.maketrans("ACGTN", "TGCAN")


def _overlaps(pos0: np.ndarray, chrom: np.ndarray, promoters: pd.DataFrame):
    """``(variant row, promoter row)`` pairs with the variant inside ``[start, end)``."""
    pairs_v, pairs_p = [], []
    for c in pd.unique(chrom):
        prom = np.flatnonzero(promoters["chrom"].to_numpy() == c)
        if not len(prom):
            continue
        start, end = promoters["start"].to_numpy()[prom], promoters["end"].to_numpy()[prom]
        order = np.argsort(start, kind="stable")
        start, end, prom = start[order], end[order], prom[order]
        v = np.flatnonzero(chrom == c)
        lo = np.searchsorted(start, pos0[v] - int((end - start).max()), side="right")
        hi = np.searchsorted(start, pos0[v], side="right")
        cand_v = np.repeat(v, hi - lo)
        cand_p = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)] or [np.zeros(0, int)])
        inside = end[cand_p] > pos0[cand_v]
        pairs_v.append(cand_v[inside])
        pairs_p.append(prom[cand_p[inside]])
    if not pairs_v:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    v, p = np.concatenate(pairs_v).astype(np.int64), np.concatenate(pairs_p).astype(np.int64)
    order = np.lexsort((p, v))
    return v[order], p[order]


def _check_genome(v: pd.DataFrame, fasta, contigs) -> tuple[np.ndarray, np.ndarray]:
    """Status and note of each pending variant after the contig, position and base checks."""
    status, note = v["status"].to_numpy(object), v["note"].to_numpy(object)
    chrom, pos0 = v["chrom"].to_numpy(object), v["pos"].to_numpy(np.int64) - 1
    pending = status == ""
    known = np.isin(chrom, list(contigs))
    status[pending & ~known] = "unknown_contig"
    if fasta is None:
        return status, note
    from cornlib.data import genome
    from cornlib.sequence import normalize

    length = np.array([contigs.get(c, 0) for c in chrom], np.int64)
    off = pending & known & ((pos0 >= length) | (pos0 < 0))
    status[off] = "outside_contig"
    note[off] = [f"position beyond the contig's {n} bases" for n in length[off]]
    todo = np.flatnonzero(status == "")
    raw = genome.fetch_many(fasta, chrom[todo], pos0[todo], pos0[todo] + 1)
    base = np.array([normalize(b.decode("ascii"), "genome base") for b in raw], dtype=object)
    ref = v["ref"].to_numpy(object)[todo]
    is_n, bad = base == "N", (base != ref) & (base != "N")
    status[todo[is_n]], note[todo[is_n]] = "n_allele", "the genome has N here"
    status[todo[bad]] = "ref_mismatch"
    note[todo[bad]] = [f"VCF ref {r}, genome {b}" for r, b in zip(ref[bad], base[bad])]
    return status, note


def locate(variants: pd.DataFrame, promoters: pd.DataFrame, fasta=None) -> pd.DataFrame:
    """Map SNVs onto promoters (strand-aware) and set every pending ``status``.

    Args:
        variants: :data:`COLUMNS` (from :func:`read_vcf`/:func:`read_table`).
        promoters: the table of :func:`cornlib.data.promoters.extract` (same genome).
        fasta: the genome (path or :func:`cornlib.data.genome.open_fasta` handle) that contigs,
            positions and reference bases are checked against; ``None``: only the promoter
            bases are checked, and a contig without a promoter counts as unknown.

    Returns:
        :data:`COLUMNS` plus ``gene_id, strand, offset, tss_offset, promoter_ref,
        promoter_alt``: one row per (variant, gene) inside promoters (``scored``, or
        ``ref_mismatch``/``n_allele`` if the promoter disagrees), one row per other variant
        (``gene_id`` empty, offsets -1), in input order.
    """
    from cornlib.data import genome
    from cornlib.data.simulate import tss_index

    v = variants.reset_index(drop=True).copy()
    if isinstance(fasta, (str, os.PathLike)):
        fasta = genome.open_fasta(fasta)
    contigs = (genome.chrom_sizes(fasta) if fasta is not None
               else dict.fromkeys(pd.unique(promoters["chrom"]), 0))
    status, note = _check_genome(v, fasta, contigs)
    pos0 = v["pos"].to_numpy(np.int64) - 1
    todo = np.flatnonzero(status == "")
    vi, pi = _overlaps(pos0[todo], v["chrom"].to_numpy(object)[todo], promoters)
    vi = todo[vi]
    status[np.setdiff1d(todo, vi)] = "outside_promoters"
    v["status"], v["note"] = status, note

    prom = promoters.iloc[pi]
    minus = prom["strand"].to_numpy() == "-"
    offset = np.where(minus, prom["end"].to_numpy() - 1 - pos0[vi], pos0[vi] - prom["start"].to_numpy())
    flip = lambda s: np.where(minus, [b.translate(_COMP) for b in s], s)  # noqa: E731
    hits = v.iloc[vi].assign(
        gene_id=prom["gene_id"].to_numpy(), strand=prom["strand"].to_numpy(), offset=offset,
        tss_offset=offset - tss_index(prom), promoter_ref=flip(v["ref"].to_numpy(object)[vi]),
        promoter_alt=flip(v["alt"].to_numpy(object)[vi]))
    seen = np.array([s[o] for s, o in zip(prom["sequence"], offset)], dtype=object)
    hits["status"] = np.where(seen == "N", "n_allele",
                              np.where(seen != hits["promoter_ref"], "ref_mismatch", "scored"))
    bad = (hits["status"] != "scored").to_numpy()
    hits.loc[bad, "note"] = [f"promoter of {g} has {s} where the variant says {r}" for g, s, r in
                             zip(hits["gene_id"][bad], seen[bad], hits["promoter_ref"][bad])]
    rest = v.drop(index=np.unique(vi)).assign(gene_id="", strand="", offset=-1, tss_offset=-1,
                                              promoter_ref="", promoter_alt="")
    out = pd.concat([hits, rest]).sort_index(kind="stable").reset_index(drop=True)
    return out.astype({"offset": np.int64, "tss_offset": np.int64})


def score(predictor, located: pd.DataFrame, promoters: pd.DataFrame, *, batch_size: int = 256,
          device: str = "auto", progress: bool | None = None) -> pd.DataFrame:
    """Predict the ``scored`` rows of :func:`locate` (each promoter once, every mutant in
    batches, via :func:`cornlib.interpret.perturb.score_edits`); the output table.

    Returns:
        ``id, chrom, pos, ref, alt, status, note, gene_id, strand, tss_offset``, then
        ``ref_<target>`` for every target, ``alt_<target>``, ``delta_<target>`` (alt - ref);
        empty predictions for unscored rows.
    """
    from cornlib.interpret import perturb
    from cornlib.sequence import Edit

    targets = list(predictor.targets)
    rows = np.flatnonzero((located["status"] == "scored").to_numpy())
    values = np.full((len(located), 3 * len(targets)), np.nan)
    if len(rows):
        hits = located.iloc[rows]
        genes, owner = np.unique(hits["gene_id"].to_numpy(str), return_inverse=True)
        seqs = promoters.set_index("gene_id").loc[genes, "sequence"].tolist()
        edits = [Edit(int(o), r, a) for o, r, a in
                 zip(hits["offset"], hits["promoter_ref"], hits["promoter_alt"])]
        eff = perturb.score_edits(predictor, seqs, owner, edits, batch_size=batch_size,
                                  device=device, progress=progress)
        values[rows] = np.hstack([eff.reference[eff.owner], eff.mutant, eff.delta])
    names = [f"{k}_{t}" for k in ("ref", "alt", "delta") for t in targets]
    out = located[COLUMNS + ["gene_id", "strand"]].copy()
    out["tss_offset"] = located["tss_offset"].where(located["gene_id"] != "").astype("Int64")
    return pd.concat([out, pd.DataFrame(values, columns=names, index=out.index)], axis=1)


def summary(table: pd.DataFrame) -> dict[str, int]:
    """Variants per status (a variant counts once whatever the number of its genes), plus
    ``variants`` and ``rows``; a variant scored for one gene counts as ``scored``."""
    rank = {s: i for i, s in enumerate(STATUSES)}
    keys = ["id", "chrom", "pos", "ref", "alt"]
    best = (table.assign(_r=table["status"].map(rank)).sort_values("_r", kind="stable")
            .drop_duplicates(keys))
    counts = best["status"].value_counts()
    return {"variants": int(len(best)), "rows": int(len(table)),
            **{s: int(counts.get(s, 0)) for s in STATUSES}}


def write(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the variant table as TSV atomically (6 significant digits, empty for missing)."""
    from cornlib.io import atomic_path

    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g", na_rep="")
    return Path(path)


def _matrices(card: dict) -> tuple[dict, dict]:
    """Motif lengths and (where JASPAR or the core consensus gives it) matrices by matrix ID."""
    from cornlib import motifs
    from cornlib.data import simulate

    length = {d["matrix_id"]: int(d["length"]) for d in card["drivers"]}
    matrices = {m.matrix_id: m for m in motifs.load_plant_motifs() if m.matrix_id in length}
    if card.get("core_element"):
        core = simulate.core_element(card["core_element"]["consensus"])
        matrices[core.matrix_id], length[core.matrix_id] = core, core.length
    return length, matrices


def _breaking_edit(seq: str, start: int, strand: str, length: int, motif, background):
    """``(offset, alt)`` in promoter orientation that breaks a site most: the motif's most
    informative position (its centre without a matrix), the base it expects least there."""
    k = length // 2
    if motif is not None:
        p = motif.probabilities(background)
        k = int(np.argmax((p * np.log2(p / background)).sum(axis=1)))
    at = start + (k if strand == "+" else length - 1 - k)
    if not 0 <= at < len(seq) or seq[at] == "N":
        return None
    here = seq[at] if strand == "+" else seq[at].translate(_COMP)
    alt = (here.translate(_COMP) if motif is None else
           min((b for b in "ACGT" if b != here), key=lambda b: p[k, "ACGT".index(b)]))
    return at, alt if strand == "+" else alt.translate(_COMP)


def _to_genome(edits: pd.DataFrame, promoters: pd.DataFrame) -> pd.DataFrame:
    """Promoter ``(gene_id, offset, palt)`` edits as forward-strand ``chrom, pos, ref, alt``."""
    from cornlib.data.simulate import tss_index

    p = promoters.set_index("gene_id").loc[edits["gene_id"]]
    minus = (p["strand"] == "-").to_numpy()
    off = edits["offset"].to_numpy(np.int64)
    pref = np.array([s[o] for s, o in zip(p["sequence"], off)], dtype=object)
    flip = lambda s: np.where(minus, [b.translate(_COMP) for b in s], s)  # noqa: E731
    return edits.assign(chrom=p["chrom"].to_numpy(), ref=flip(pref), alt=flip(edits["palt"]),
                        pos=np.where(minus, p["end"].to_numpy() - off, p["start"].to_numpy() + off + 1),
                        tss_offset=off - tss_index(p.reset_index()))


def simulated_variants(promoters: pd.DataFrame, truth_sites: pd.DataFrame, card: dict,
                       genes=None, n_per_class: int = 100, seed: int = 0,
                       roles=("driver",)) -> pd.DataFrame:
    """SNVs in genome coordinates for the book: ``site`` (true sites of ``roles``, each broken
    at its most informative position by the base the motif least expects, site strand
    respected) and ``random`` (random positions of the same genes' promoters, another base,
    outside every true site of the gene: any role, any motif of ``truth_sites``).

    Args:
        promoters, truth_sites, card: ``promoters.parquet``, ``targets/truth_sites.parquet``
            and ``targets/card.json`` of a run (the card names the motifs and their lengths).
        genes: gene IDs to draw sites from (default: every gene with a site).
        n_per_class: variants per class (fewer if there are fewer sites).

    Returns:
        ``chrom, pos`` (1-based), ``ref, alt`` (forward strand), ``id, class, gene_id, motif,
        offset, tss_offset`` (promoter orientation) and ``contribution`` (the broken site's
        true effect, ``truth_sites``' ``contribution``; NaN for random variants and where the
        truth has none); distinct positions. A gene whose promoter has no base outside its true
        sites gets no random variant; ``attrs["genes_without_room"]`` counts such genes.
    """
    from cornlib.data.simulate import tss_index

    length, matrices = _matrices(card)
    bg = card.get("background") or dict.fromkeys("ACGT", 0.25)
    background = np.array([bg[b] for b in "ACGT"])
    prom = promoters.set_index("gene_id")
    tss = pd.Series(tss_index(promoters), index=promoters["gene_id"])
    sites = truth_sites[truth_sites["role"].isin(list(roles)) & truth_sites["motif"].isin(list(length))
                        & truth_sites["gene_id"].isin(prom.index if genes is None else
                                                      prom.index.intersection(list(genes)))]
    if sites.empty:
        raise ValueError("no truth site of these genes and roles lies in the promoter table")
    if "contribution" not in sites.columns:
        sites = sites.assign(contribution=np.nan)
    rng = np.random.default_rng(seed)
    rows = []
    for gid, motif, position, strand, effect in sites[
            ["gene_id", "motif", "position", "strand", "contribution"]].iloc[
            rng.permutation(len(sites))].itertuples(index=False):
        edit = _breaking_edit(prom.at[gid, "sequence"], int(position + tss[gid]), strand,
                              length[motif], matrices.get(motif), background)
        if edit is not None:
            rows.append((gid, motif, *edit, "site", effect))
    drawn = pd.unique(pd.Series([r[0] for r in rows[:n_per_class]]))
    free = {g: _free_positions(prom.at[g, "sequence"], truth_sites[truth_sites["gene_id"] == g],
                               length, int(tss[g])) for g in drawn}
    room = [g for g in drawn if len(free[g])]
    for gid in (rng.choice(room, 3 * n_per_class) if room else []):
        seq = prom.at[gid, "sequence"]
        at = int(free[gid][rng.integers(len(free[gid]))])
        rows.append((gid, "", at, rng.choice([b for b in "ACGT" if b != seq[at]]), "random",
                     np.nan))
    out = _to_genome(pd.DataFrame(rows, columns=["gene_id", "motif", "offset", "palt", "class",
                                                 "contribution"]), promoters)
    out = (out.drop_duplicates(["chrom", "pos"]).groupby("class", sort=False).head(n_per_class)
           .reset_index(drop=True))
    out["id"] = [f"{c}_{i}_{g}" for i, (c, g) in enumerate(zip(out["class"], out["gene_id"]))]
    out = out[["chrom", "pos", "ref", "alt", "id", "class", "gene_id", "motif", "offset",
               "tss_offset", "contribution"]].astype(
        {"pos": np.int64, "offset": np.int64, "tss_offset": np.int64, "contribution": float})
    out.attrs["genes_without_room"] = len(drawn) - len(room)
    return out


def true_site_mask(sequence: str, sites: pd.DataFrame, lengths: dict, tss: int) -> np.ndarray:
    """Which bases of one promoter (promoter orientation) lie in one of its true sites.

    Args:
        sequence: the promoter.
        sites: the gene's rows of ``targets/truth_sites.parquet`` (``motif``, ``position``
            from the TSS), every role.
        lengths: motif ID → length (the card's drivers and core element).
        tss: the TSS's index in ``sequence``.

    Raises:
        ValueError: a site's motif has no known length (its extent is unknown).
    """
    inside = np.zeros(len(sequence), dtype=bool)
    for motif, position in sites[["motif", "position"]].itertuples(index=False):
        if motif not in lengths:
            raise ValueError(f"true site motif {motif!r} is not among the card's drivers or "
                             "core element, so its extent is unknown")
        start = int(position) + tss
        inside[max(start, 0):max(start + int(lengths[motif]), 0)] = True
    return inside


def _free_positions(sequence: str, sites: pd.DataFrame, lengths: dict, tss: int) -> np.ndarray:
    """Offsets of ``sequence`` that are a base (not N) outside every true site."""
    known = np.frombuffer(sequence.upper().encode(), dtype=np.uint8) != ord("N")
    return np.flatnonzero(known & ~true_site_mask(sequence, sites, lengths, tss))


def run(model, variants: str | os.PathLike, fasta: str | os.PathLike, gff: str | os.PathLike, *,
        table: bool = False, species: str = "genome", split_multiallelic: bool = False,
        batch_size: int = 256, device: str = "auto", progress: bool | None = None,
        cache_dir: str | os.PathLike | None = None) -> tuple[pd.DataFrame, dict[str, int]]:
    """Read variants (a VCF, or a table with ``table=True``), cut the genome's promoters with the
    model's settings, locate and score; returns the output table and :func:`summary`."""
    from cornlib.data import genome, promoters
    from cornlib.models import predictor
    from cornlib.predict import promoter_settings

    model = predictor.as_predictor(model)
    reader = read_table if table else read_vcf
    found = reader(variants, split_multiallelic=split_multiallelic)
    if found.empty:
        raise ValueError(f"{variants} holds no variant")
    fa = genome.open_fasta(fasta, cache_dir)
    check_contigs(found, genome.chrom_sizes(fa))
    settings = promoter_settings(model, warn=True)
    proms, _ = promoters.extract(fasta, gff, species, cache_dir=cache_dir, **settings)
    located = locate(found, proms, fa)
    out = score(model, located, proms, batch_size=batch_size, device=device, progress=progress)
    return out, summary(out)


def command(args) -> int:
    """Run ``cornlib variants`` from parsed arguments; return the exit status."""
    import warnings

    from cornlib import CornlibWarning
    from cornlib.predict import _show, check_model_path, plural, progress_bars

    seen: list = []
    try:
        if bool(args.vcf) == bool(args.table):
            raise ValueError("give either --vcf FILE or --table FILE (one of them)")
        check_model_path(args.model)
        if args.vcf:
            check_vcf(args.vcf)
        with progress_bars(not args.no_progress), warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always", CornlibWarning)
            out, counts = run(args.model, args.vcf or args.table, args.fasta, args.gff,
                              table=bool(args.table), species=args.species,
                              split_multiallelic=args.split_multiallelic,
                              batch_size=args.batch_size, device=args.device,
                              progress=not args.no_progress, cache_dir=args.cache_dir)
        _show(seen, [], "cornlib variants")
        write(out, args.output)
    except (ValueError, FileNotFoundError) as err:
        _show(seen, [], "cornlib variants")
        print(f"cornlib variants: error: {err}", file=sys.stderr)
        return 2
    detail = ", ".join(f"{n} {s}" for s, n in counts.items() if n and s in STATUSES)
    print(f"cornlib variants: {plural(counts['variants'], 'variant')} ({detail}); "
          f"{plural(counts['rows'], 'row')} -> {args.output}", file=sys.stderr)
    return 0


def add_parser(sub) -> None:
    """The ``variants`` subcommand of ``cornlib``."""
    from cornlib.predict import add_run_options

    p = sub.add_parser(
        "variants", help="predict the effect of promoter SNVs with a trained model",
        description="Score single-nucleotide variants (a VCF or a table) that fall in the "
                    "promoters of a genome: the model's prediction for the reference and the "
                    "alternative promoter of every gene whose promoter holds the variant.",
        epilog="Output: a tab-separated table, one row per (variant, gene) plus one per "
               "unscored variant with its status (outside_promoters, ref_mismatch, n_allele, "
               "unknown_contig, outside_contig, multiallelic, indel, symbolic, no_alt); "
               "columns id, chrom, pos, ref, alt, status, note, gene_id, strand, tss_offset, "
               "ref_/alt_/delta_<target>. Promoters are cut with the model's own settings.")
    p.add_argument("model", help="a saved model folder (e.g. runs/small/finetune/random_init/model)")
    p.add_argument("--vcf", help="variants as VCF (plain or bgzipped)")
    p.add_argument("--table", help="variants as a TSV with chrom, pos (1-based), ref, alt[, id]")
    p.add_argument("--fasta", required=True, help="genome FASTA (plain, gzip or BGZF)")
    p.add_argument("--gff", required=True, help="GFF3 annotation of the genome")
    p.add_argument("--species", default="genome", help="species label of the promoters")
    p.add_argument("--split-multiallelic", action="store_true",
                   help="score each ALT of a multi-allelic record (default: skip the record)")
    add_run_options(p, batch_size=256)
    p.set_defaults(func=command)
