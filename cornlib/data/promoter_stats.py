"""What a promoter table holds: drop reasons, letters, lengths, examples, GC content around the TSS,
and where the TSS comes from (5'UTRs, predicted gene models, core-element positions)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cornlib.data.promoters import FLAGS


def report_table(report: dict[str, Any]) -> pd.DataFrame:
    """One row per species (and a ``total`` row): genes, candidates, kept, then drops by reason."""
    per = report["species"] if "species" in report and isinstance(report["species"], dict) else {
        report["species"]: report}
    rows = []
    for name, rep in list(per.items()) + ([("total", report["total"])] if "total" in report else []):
        rows.append({"species": name, "genes": rep["genes"], "candidates": rep["candidates"],
                     "kept": rep["kept"], **rep["dropped"],
                     **{f"flag_{f}": n for f, n in rep["flagged"].items()}})
    return pd.DataFrame(rows).set_index("species")


def letter_summary(promoters: pd.DataFrame) -> pd.DataFrame:
    """Per species: promoters, how many contain N (and the largest N share), IUPAC codes,
    and the mean share of soft-masked bases."""
    g = promoters.groupby("species", sort=False)
    return pd.DataFrame({
        "promoters": g.size(),
        "with_N": g["n_fraction"].apply(lambda x: int((x > 0).sum())),
        "max_N_fraction": g["n_fraction"].max(),
        "with_IUPAC": g["n_iupac"].apply(lambda x: int((x > 0).sum())),
        "mean_masked_fraction": g["masked_fraction"].mean().round(3),
    })


def preview(promoters: pd.DataFrame, width: int = 24) -> pd.DataFrame:
    """A few promoters to look at: the first with no flag, then the first of each flag.

    Returns:
        One row per example: ``gene_id, species, location, length, flags`` and the sequence's
        first and last ``width`` bases (``5' ...`` / ``... 3'``, the 3' end next to the TSS).
    """
    picks = [promoters.index[promoters["flags"] == ""][:1]]
    for flag in FLAGS:
        picks.append(promoters.index[promoters["flags"].str.contains(flag, regex=False)][:1])
    rows = promoters.loc[pd.Index(np.concatenate([p.to_numpy() for p in picks])).unique()]
    loc = rows["chrom"] + ":" + rows["start"].astype(str) + "-" + rows["end"].astype(str) \
        + "(" + rows["strand"] + ")"
    return pd.DataFrame({
        "gene_id": rows["gene_id"], "species": rows["species"], "location": loc,
        "length": rows["length"], "flags": rows["flags"].replace("", "-"),
        "5' end": rows["sequence"].str[:width] + " ...",
        "3' end": "... " + rows["sequence"].str[-width:]}).reset_index(drop=True)


def gc_profile(promoters: pd.DataFrame, upstream: int, downstream: int = 0,
               bin_size: int = 10) -> pd.DataFrame:
    """GC fraction by position relative to the TSS, per species (N and missing bases ignored).

    Position 0 is the TSS base, ``-1`` the base just upstream of it; every promoter is placed
    by its coordinates, so trimmed or detached ones add only the positions they cover.

    Returns:
        Columns ``species, position`` (bin start, in ``[-upstream, downstream)``),
        ``gc_fraction``, ``n_bases``.
    """
    if bin_size < 1:
        raise ValueError(f"bin_size must be a positive integer, not {bin_size!r}")
    width = upstream + downstream
    code = np.full(256, 255, dtype=np.uint8)
    code[np.frombuffer(b"GCgc", np.uint8)] = 1
    code[np.frombuffer(b"ATat", np.uint8)] = 0
    plus = (promoters["strand"] == "+").to_numpy()
    first = np.where(plus, promoters["start"] - promoters["tss"],
                     promoters["tss"] - (promoters["end"] - 1)).astype(np.int64) + upstream
    rows = []
    for species in pd.unique(promoters["species"]):
        sel = (promoters["species"] == species).to_numpy()
        gc = np.zeros(width, dtype=np.int64)
        n = np.zeros(width, dtype=np.int64)
        for seq, f in zip(promoters["sequence"][sel], first[sel]):
            c = code[np.frombuffer(seq.encode("ascii"), np.uint8)]
            a, b = max(f, 0), min(f + len(c), width)
            if b <= a:
                continue
            c = c[a - f:b - f]
            gc[a:b] += c == 1
            n[a:b] += c != 255
        edges = np.arange(0, width, bin_size)
        gcb, nb = np.add.reduceat(gc, edges), np.add.reduceat(n, edges)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(nb > 0, gcb / np.maximum(nb, 1), np.nan)
        rows.append(pd.DataFrame({"species": species, "position": edges - upstream,
                                  "gc_fraction": frac, "n_bases": nb}))
    return pd.concat(rows, ignore_index=True)


def length_summary(promoters: pd.DataFrame, upstream: int, downstream: int = 0) -> pd.DataFrame:
    """Per species: promoters, how many keep the full ``upstream + downstream`` bases and their
    share, and the median length."""
    full = promoters["length"] == upstream + downstream
    g = full.groupby(promoters["species"], sort=False)
    return pd.DataFrame({"promoters": g.size(), "full_length": g.sum().astype(int),
                         "full_share": g.mean(),
                         "median_length": promoters.groupby("species", sort=False)["length"].median()})


def bedtools_sentence(result: dict[str, Any]) -> str:
    """What :func:`cornlib.data.bedtools.verify_with_bedtools` found, as a sentence."""
    if result.get("bedtools") == "not installed":
        return ("bedtools is not installed where this build ran, so the comparison with "
                "FloraBERT's bedtools pipeline did not run: this build does not confirm that the "
                "sequences are identical.")
    n, same = result["promoters"], result["identical"]
    missing = result["only_cornlib"] + result["only_bedtools"]
    verdict = ("every promoter is identical, with none missing on either side" if same == n and not missing
               else f"{same:,} of {n:,} promoters are identical, {result['only_cornlib']:,} are found only "
                    f"by cornlib and {result['only_bedtools']:,} only by bedtools")
    return (f"Against {result['bedtools']} on {result.get('species', 'the first genome')}: "
            f"{verdict}.")


def gc_landmarks(profile: pd.DataFrame, near: int = 200, dip_within: int = 100) -> pd.DataFrame:
    """Per species, from :func:`gc_profile`: mean GC of the bins more than ``near`` bp upstream
    (``gc_far``) and of the last ``near`` bp (``gc_near``), and the bin of lowest GC within
    ``dip_within`` bp of the TSS (``dip_position``, its ``dip_gc``). Bins are weighted by bases."""
    rows = []
    for species, p in profile.groupby("species", sort=False):
        p = p[p["n_bases"] > 0]
        far, close = p[p["position"] < -near], p[(p["position"] >= -near) & (p["position"] < 0)]
        dip = p[(p["position"] >= -dip_within) & (p["position"] < 0)]
        low = dip.loc[dip["gc_fraction"].idxmin()] if len(dip) else None

        def mean(x: pd.DataFrame) -> float:
            return float(np.average(x["gc_fraction"], weights=x["n_bases"])) if len(x) else np.nan

        rows.append({"species": species, "gc_far": mean(far), "gc_near": mean(close),
                     "dip_position": int(low["position"]) if low is not None else None,
                     "dip_gc": float(low["gc_fraction"]) if low is not None else np.nan})
    return pd.DataFrame(rows).set_index("species")


# --- where the TSS comes from ---------------------------------------------------------------------

def five_prime_utr(gff) -> pd.Series:
    """5'UTR length of each protein-coding gene: bp from its TSS to its first coding base.

    The TSS is the gene's 5' end (:func:`cornlib.data.gff.read_genes`); the first coding base is
    the 5'-most base of the gene's ``CDS`` features (matched by ``locus_tag``, else by the
    ``Parent`` mRNA's gene). 0 means the annotation has no 5'UTR: the "TSS" is the start codon.

    Returns:
        A Series indexed by ``gene_id`` (genes without a CDS are left out).
    """
    from cornlib.data import gff as gff_mod

    genes = gff_mod.read_genes(gff).set_index("gene_id")
    cds = gff_mod.read_features(gff, "CDS")
    key = cds["attributes"].str.extract(r"(?:^|;)\s*locus_tag=([^;]*)")[0]
    if key.isna().any():  # no locus_tag: go through the parent mRNA to its gene
        mrna = gff_mod.read_features(gff, "mRNA")
        ids = mrna["attributes"].str.extract(r"(?:^|;)\s*ID=([^;]*)")[0]
        parent = mrna["attributes"].str.extract(r"(?:^|;)\s*Parent=([^;,]*)")[0]
        parent = parent.str.replace(r"^gene[-:]", "", regex=True)
        to_gene = dict(zip(ids, parent))
        cds_parent = cds["attributes"].str.extract(r"(?:^|;)\s*Parent=([^;,]*)")[0]
        key = key.fillna(cds_parent.map(to_gene))
    cds = cds.assign(gene_id=key)
    first_plus = cds.groupby("gene_id")["start"].min() - 1  # 0-based
    last_minus = cds.groupby("gene_id")["end"].max() - 1
    genes = genes[genes.index.isin(cds["gene_id"])]
    plus = (genes["strand"] == "+").to_numpy()
    tss = genes["tss"].astype("int64").to_numpy()
    first = np.where(plus, first_plus.reindex(genes.index), last_minus.reindex(genes.index))
    return pd.Series(np.where(plus, first - tss, tss - first).astype(np.int64), index=genes.index,
                     name="utr5_bp")


def tss_sources(genomes, promoters: pd.DataFrame) -> pd.DataFrame:
    """Per species: where the TSSs of its promoters come from.

    Columns: ``mrnas`` (mRNA features), ``mrnas_ab_initio`` (mRNAs whose GFF3 line names the gene
    predictor AUGUSTUS: predicted gene models, not transcript evidence), ``promoters``,
    ``tss_at_start_codon`` (promoters whose gene has no annotated 5'UTR, so that the "TSS" is the
    start codon, see :func:`five_prime_utr`) and its ``share``.
    """
    from cornlib.data import gff as gff_mod

    rows = []
    for files in genomes:
        mrna = gff_mod.read_features(files.gff, "mRNA")
        predicted = mrna["source"].str.contains("AUGUSTUS", case=False) | mrna["attributes"].str.contains(
            "AUGUSTUS", case=False)
        ids = promoters.loc[promoters["species"] == files.species, "gene_id"]
        utr = five_prime_utr(files.gff).reindex(ids)
        rows.append({"species": files.species, "mrnas": len(mrna), "mrnas_ab_initio": int(predicted.sum()),
                     "promoters": len(ids), "tss_at_start_codon": int((utr == 0).sum()),
                     "share": float((utr == 0).mean()) if len(ids) else np.nan})
    return pd.DataFrame(rows).set_index("species")


def core_profile(hits: pd.DataFrame, groups: pd.Series, *, span: int = 300,
                 bin_size: int = 10) -> pd.DataFrame:
    """Core-element hits per bin upstream of the TSS, per group of promoters, per 1,000 promoters.

    Args:
        hits: :func:`cornlib.data.simulate.core_scan` (``gene_id``, ``centre``).
        groups: the group of every promoter (index ``gene_id``), e.g. its species.
        span: bp upstream of the TSS to cover.
        bin_size: bp per bin.

    Returns:
        Columns ``group``, ``position`` (bin start, ``[-span, 0)``), ``hits``, ``promoters`` (in
        the group) and ``per_1000``.
    """
    edges = np.arange(-span, 1, bin_size)
    shown = hits[(hits["centre"] >= -span) & (hits["centre"] < 0)]
    label = shown["gene_id"].map(groups)
    rows = []
    for group, n in groups.value_counts(sort=False).items():
        centre = shown.loc[(label == group).to_numpy(), "centre"].to_numpy()
        count = np.histogram(centre, bins=edges)[0]
        rows.append(pd.DataFrame({"group": group, "position": edges[:-1], "hits": count,
                                  "promoters": int(n), "per_1000": 1000 * count / n}))
    return pd.concat(rows, ignore_index=True)


def core_peak(profile: pd.DataFrame, peak: tuple[int, int] = (-30, -20),
              upstream_of: int = -50) -> pd.DataFrame:
    """Per group of :func:`core_profile`: hits in the ``peak`` bins (bp, start inclusive, end
    exclusive) against those in each bin further upstream than ``upstream_of``.

    Returns:
        ``promoters``, ``peak_hits``, ``peak_per_bin`` (mean over the peak's bins), ``other_min``
        and ``other_max`` (hits per bin upstream), and ``enrichment`` (``peak_per_bin`` over the
        upstream bins' median).
    """
    rows = []
    for group, p in profile.groupby("group", sort=False):
        inside = p[(p["position"] >= peak[0]) & (p["position"] < peak[1])]
        other = p[p["position"] < upstream_of]
        med = float(other["hits"].median()) if len(other) else np.nan
        per_bin = float(inside["hits"].mean()) if len(inside) else np.nan
        rows.append({"group": group, "promoters": int(p["promoters"].iloc[0]),
                     "peak_hits": int(inside["hits"].sum()), "peak_per_bin": per_bin,
                     "other_min": int(other["hits"].min()), "other_max": int(other["hits"].max()),
                     "enrichment": per_bin / med if med else np.nan})
    return pd.DataFrame(rows).set_index("group")


def tss_groups(genomes, promoters: pd.DataFrame) -> pd.Series:
    """Each promoter's species and TSS evidence, for :func:`core_profile`.

    ``"<species>: 5'UTR annotated"`` or ``"<species>: no 5'UTR (TSS = start codon)"``, with
    ``", predicted models"`` added for a species whose mRNAs all come from a gene predictor
    (:func:`tss_sources`). Indexed by ``gene_id``.
    """
    sources = tss_sources(genomes, promoters)
    utr = pd.concat([five_prime_utr(files.gff) for files in genomes])
    utr = utr[~utr.index.duplicated()]
    table = promoters.set_index("gene_id")
    at_start = (utr.reindex(table.index) == 0).to_numpy()
    predicted = table["species"].map(sources["mrnas_ab_initio"] == sources["mrnas"]).fillna(False)
    label = (table["species"] + np.where(at_start, ": no 5'UTR (TSS = start codon)", ": 5'UTR annotated")
             + np.where(predicted.to_numpy(bool), ", predicted models", ""))
    return label.rename("group")


def _count(k: int, n: int, what: str) -> str:
    """``"850 of 6,158 (13.8 %) promoters"``, ``"none of the 13,336 mRNAs"``, ``"all 6,168 mRNAs"``."""
    if k == 0:
        return f"none of the {n:,} {what}"
    if k == n:
        return f"all {n:,} {what}"
    return f"{k:,} of {n:,} {what} ({k / n:.1%})"


def tss_sentence(sources: pd.DataFrame) -> str:
    """Where each species' TSSs come from (:func:`tss_sources`), with the caveats that follow.

    A species whose mRNAs are all predicted by a gene finder has predicted TSSs, so a check of
    where TATA boxes sit relative to them tests the predictor, not the promoters; genes with no
    annotated 5'UTR have their "TSS" at the start codon.
    """
    parts, circular = [], []
    for species, r in sources.iterrows():
        ab, at = int(r["mrnas_ab_initio"]), int(r["tss_at_start_codon"])
        parts.append(f"in {species}, {_count(ab, int(r['mrnas']), 'mRNAs')} "
                     + ("is an AUGUSTUS gene-model prediction" if ab == 1
                        else "are AUGUSTUS gene-model predictions")
                     + (f" and every one of its {int(r['promoters']):,} promoters has an annotated 5'UTR"
                        if at == 0 else
                        f" and {_count(at, int(r['promoters']), 'promoters')} "
                        f"{'has' if at == 1 else 'have'} no annotated 5'UTR, so that the \"TSS\" "
                        "is the start codon"))
        if r["mrnas"] and r["mrnas_ab_initio"] == r["mrnas"]:
            circular.append(str(species))
    text = "; ".join(parts)
    text = text[0].upper() + text[1:] + "."
    if circular:
        text += (f" The TSSs of {' and '.join(circular)} are therefore predictions, and a gene "
                 "predictor can place a TSS by a core-promoter model of its own: for "
                 f"{'this species' if len(circular) == 1 else 'these species'} the TATA check "
                 "is circular, a test of the predictor rather than of the promoters.")
    if (sources["tss_at_start_codon"] > 0).any():
        text += (" Where the TSS is the start codon, the real TSS lies somewhere upstream and a "
                 "TATA box sits farther from the annotated one than 30 bp.")
    return text


def core_sentence(peak: pd.DataFrame, peak_bins: tuple[int, int] = (-30, -20),
                  upstream_of: int = -50, bin_size: int = 10) -> str:
    """The core-element peak of each group (:func:`core_peak`) as a sentence."""
    parts = [f"{g}: {int(r['peak_hits']):,} hits centred at {peak_bins[0]} to {peak_bins[1] - 1} bp "
             f"against {int(r['other_min']):,}–{int(r['other_max']):,} in each {bin_size}-bp bin "
             f"upstream of {upstream_of} bp ({int(r['promoters']):,} promoters"
             + (f"; {r['enrichment']:.1f}× the upstream median)" if np.isfinite(r["enrichment"])
                else ")") for g, r in peak.iterrows()]
    return "; ".join(parts) + "."


def drop_sentence(report: dict[str, Any]) -> str:
    """Per species of an extraction report: candidates lost, by reason, and promoters trimmed."""
    words = {"too_short": "too short after trimming", "covered_by_neighbours": "covered by neighbours",
             "too_many_n": "with too many N", "chrom_edge": "at a chromosome end",
             "unstranded": "unstranded", "max_genes": "beyond max_genes"}
    parts = []
    for species, rep in report["species"].items():
        lost = sum(rep["dropped"].values())
        why = [f"{n:,} {words.get(reason, reason.replace('_', ' '))}" for reason, n in
               sorted(rep["dropped"].items(), key=lambda kv: -kv[1]) if n]
        trimmed = rep["flagged"].get("trimmed", 0)
        parts.append(f"in {species}, {lost:,} of {rep['candidates']:,} candidate genes are dropped "
                     f"({lost / max(rep['candidates'], 1):.1%}"
                     + (": " + ", ".join(why) if why else "") + ") and "
                     f"{trimmed:,} of the {rep['kept']:,} promoters kept are trimmed "
                     f"({trimmed / max(rep['kept'], 1):.1%})")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def accounted_sentence(report: dict[str, Any]) -> str:
    """Whether candidates = kept + dropped holds for every species of an extraction report."""
    bad = [s for s, r in report["species"].items()
           if r["candidates"] != r["kept"] + sum(r["dropped"].values())]
    if bad:
        return f"For {', '.join(bad)} the counts do not add up: candidates ≠ kept + dropped."
    return "For every species, candidates = kept + the dropped columns."


def lengths_sentence(lengths: pd.DataFrame, letters: pd.DataFrame) -> str:
    """:func:`length_summary` and :func:`letter_summary` as sentences."""
    full = " and ".join(f"{r.full_share:.1%} of the {species} promoters"
                        for species, r in lengths.iterrows())
    with_n = int(letters["with_N"].sum())
    total = int(letters["promoters"].sum())
    masked = " and ".join(f"{r.mean_masked_fraction:.1%} of an average {species} promoter"
                          for species, r in letters.iterrows())
    return (f"{full} keep the full window; the trimmed ones spread below it down to the minimum "
            "length. "
            + (f"None of the {total:,} promoters holds an unknown base (N, including converted "
               "IUPAC codes)" if with_n == 0 else
               f"{with_n:,} of the {total:,} promoters {'holds' if with_n == 1 else 'hold'} "
               f"unknown bases (N, including converted IUPAC codes), at most "
               f"{letters['max_N_fraction'].max():.1%} of a promoter")
            + "; those over the N limit were dropped above. Soft-masked bases (lowercase in the "
            "FASTA: repeats) make up on "
            f"average {masked}, and were upper-cased.")


def gc_sentence(landmarks: pd.DataFrame, near: int = 200, dip_within: int = 100) -> str:
    """:func:`gc_landmarks` as a sentence, one clause per species."""
    parts = []
    for species, r in landmarks.iterrows():
        way = ("rises" if r.gc_near > r.gc_far + 0.005 else
               "falls" if r.gc_near < r.gc_far - 0.005 else "stays level")
        clause = (f"in {species} GC {way} from {r.gc_far:.3f} more than {near} bp upstream to "
                  f"{r.gc_near:.3f} over the last {near} bp")
        if r.dip_position is not None and np.isfinite(r.dip_gc):
            clause += (f", and within {dip_within} bp of the TSS it is lowest in the bin at "
                       f"{int(r.dip_position)} bp ({r.dip_gc:.3f})"
                       + (", where plant TATA boxes sit" if -40 <= r.dip_position <= -20 else ""))
        parts.append(clause)
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."
