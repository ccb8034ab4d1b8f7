"""``cornlib init``: check a lab's genome, annotation and expression table together, and write a
profile that runs the book on them.

The checks, each counted in the report:

- **FASTA ↔ GFF3**: the sequence names (FASTA record names vs GFF3 seqids) shared, and those only
  on one side; none shared is an error (with a hint for a ``chr`` prefix).
- **Expression ↔ GFF3**: table gene IDs matched to GFF3 gene IDs (after the normalisation the run
  uses, :func:`cornlib.data.cleaning.normalize_gene_id`), unmatched ones with examples, and a hint
  for the usual mismatches (transcript suffixes ``.1``/``_T001``, ``gene-`` prefixes, gene names
  instead of IDs, letter case); none matched is an error.
- **The table**: its layout, tissues and the replicates of each (from the sample sheet), genes
  below ``min_tpm``; bad values (negative, NaN, non-numeric) are errors naming gene and sample.

The profile is the small profile's settings (``profiles/small.yml``, comments kept) with the
lab's files as local paths (``source: download`` reads local paths in place).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from cornlib.data.cleaning import normalize_gene_id

#: Suffixes of transcript/protein IDs (``AT1G01010.1``, ``Zm00001eb000010_T001``, ``g1.t1``).
_SUFFIX = re.compile(r"(\.\d+|[._-][TtPp]\d+|-R[A-Z]|\.t\d+)$")
_PREFIX = re.compile(r"^(gene|transcript|mrna|rna|cds|protein)[:-]", re.IGNORECASE)


@dataclass(frozen=True)
class Species:
    """One genome of the lab: a short key, its FASTA, GFF3 and (optionally) protein FASTA."""

    name: str
    fasta: Path
    gff: Path
    proteins: Path | None = None
    label: str | None = None


def species_list(fastas: Sequence[str], gffs: Sequence[str], names: Sequence[str] = (),
                 proteins: Sequence[str] = ()) -> list[Species]:
    """Pair repeated ``--fasta``/``--gff``/``--name``/``--proteins`` options, in order.

    Raises:
        ValueError: counts that differ, or a name that is not a short key.
        FileNotFoundError: a file that does not exist (naming the option).
    """
    from cornlib.data.filespec import local_path

    if not fastas or len(fastas) != len(gffs):
        raise ValueError(f"give one --gff per --fasta (got {len(fastas)} --fasta, "
                         f"{len(gffs)} --gff)")
    if names and len(names) != len(fastas):
        raise ValueError(f"give one --name per --fasta (got {len(names)} for {len(fastas)})")
    if proteins and len(proteins) != len(fastas):
        raise ValueError(f"give one --proteins per --fasta (got {len(proteins)} for "
                         f"{len(fastas)})")
    out = []
    for i, fa in enumerate(fastas):
        name = names[i] if names else ("species" if len(fastas) == 1 else f"species{i + 1}")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            raise ValueError(f"--name {name!r}: a species key is letters, digits and _, starting "
                             "with a letter (like 'athaliana')")
        out.append(Species(name=name, fasta=local_path(fa, f"--fasta {fa}"),
                           gff=local_path(gffs[i], f"--gff {gffs[i]}"),
                           proteins=local_path(proteins[i], f"--proteins {proteins[i]}")
                           if proteins else None))
    dup = [s.name for s in out if [t.name for t in out].count(s.name) > 1]
    if dup:
        raise ValueError(f"species names must differ; {dup[0]!r} is used twice (--name)")
    return out


# --- the checks ----------------------------------------------------------------------------------


def _examples(values, n: int = 5) -> list[str]:
    return [str(v) for v in list(values)[:n]]


def check_genome(sp: Species, cache_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """FASTA record names against GFF3 seqids, and the genes of the annotation.

    Raises:
        ValueError: no GFF3 seqid is a FASTA record (with the names of each, and a hint).
    """
    from cornlib.data import genome, gff

    sizes = genome.chrom_sizes(genome.open_fasta(sp.fasta, cache_dir))
    genes = gff.read_genes(sp.gff)
    seqids = list(pd.unique(genes["chrom"]))
    shared = [s for s in seqids if s in sizes]
    gff_only = [s for s in seqids if s not in sizes]
    fasta_only = [s for s in sizes if s not in set(seqids)]
    if not shared:
        bare = {s.lower().removeprefix("chr") for s in sizes}
        hint = ("they differ by a 'chr' prefix: rename one side's sequences" if
                any(s.lower().removeprefix("chr") in bare for s in seqids) else
                "the FASTA and the GFF3 must name sequences alike (check both come from the same "
                "assembly and source, e.g. NCBI 'NC_003070.9' vs Ensembl '1')")
        raise ValueError(f"{sp.name}: no GFF3 sequence name is a FASTA record: the GFF3 ({sp.gff}) "
                         f"has {_examples(seqids)}, the FASTA ({sp.fasta}) has "
                         f"{_examples(sizes)}; {hint}")
    on_shared = genes["chrom"].isin(shared)
    coding = genes["biotype"].eq("protein_coding")
    proteins = check_proteins(sp.proteins, genes["gene_id"]) if sp.proteins else None
    return {"name": sp.name, "proteins": proteins, "fasta": str(sp.fasta), "gff": str(sp.gff),
            "fasta_sequences": len(sizes), "gff_sequences": len(seqids),
            "shared_sequences": len(shared), "gff_only": _examples(gff_only),
            "gff_only_count": len(gff_only), "fasta_only_count": len(fasta_only),
            "fasta_only": _examples(fasta_only),
            "genes": int(len(genes)), "protein_coding": int(coding.sum()),
            "genes_off_fasta": int((~on_shared).sum()),
            "_ids": genes.loc[on_shared, "gene_id"].astype(str).tolist(),
            "_coding": genes.loc[on_shared & coding, "gene_id"].astype(str).tolist(),
            "_names": genes.loc[on_shared, "name"].astype(str).tolist()}


def check_proteins(path: str | os.PathLike, gene_ids) -> dict[str, Any]:
    """Protein FASTA records, and how many name a gene of the GFF3 (``gene:X``, ``[locus_tag=X]``
    ...), the link chapter 3 uses to group genes into families."""
    from cornlib.split.proteins import header_gene, read_fasta

    known = {normalize_gene_id(g) for g in gene_ids}
    records, named, genes = 0, 0, set()
    for header, _ in read_fasta(path):
        records += 1
        gene = header_gene(header)
        if gene is not None:
            named += 1
            if normalize_gene_id(gene) in known:
                genes.add(normalize_gene_id(gene))
    if not records:
        raise ValueError(f"--proteins {path}: holds no FASTA record")
    return {"file": str(path), "records": records, "naming_a_gene": named,
            "gff_genes": len(genes)}


def id_hint(table_ids: Sequence[str], gff_ids: Sequence[str],
            gff_names: Sequence[str] = ()) -> str | None:
    """Why table gene IDs miss the GFF3's, if a usual cause explains more matches; else None."""
    gset = {normalize_gene_id(g) for g in gff_ids}
    base = sum(normalize_gene_id(t) in gset for t in table_ids)
    tries = [
        ("the table's IDs carry a transcript suffix (e.g. {ex}): give one row per gene, with "
         "the suffix removed ('.1', '_T001', '.t1')", lambda t: _SUFFIX.sub("", t), gset),
        ("the GFF3's gene IDs carry a transcript-like suffix the table lacks (e.g. {gex})",
         lambda t: t, {_SUFFIX.sub("", g) for g in gset}),
        ("the table's IDs carry a type prefix (e.g. {ex}): remove 'gene-'/'gene:'",
         lambda t: _PREFIX.sub("", t), gset),
        ("the table holds gene names (e.g. {ex}), not the GFF3's gene IDs: use the IDs",
         lambda t: t, set(gff_names)),
        ("the IDs differ in letter case (e.g. {ex}): use the GFF3's spelling",
         lambda t: t.upper(), {g.upper() for g in gset}),
    ]
    best, text = base, None
    for message, fix, target in tries:
        n = sum(fix(normalize_gene_id(t)) in target for t in table_ids)
        if n > max(best, 0) and n >= 0.2 * len(table_ids):
            best = n
            text = message.format(ex=_examples(table_ids, 2), gex=_examples(sorted(gset), 2)) + (
                f" ({n} of {len(table_ids)} would match)")
    return text


def match_genes(table_ids: Sequence[str], genomes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Table gene IDs against the GFF3 genes (normalised as the run does); counts and examples.

    Raises:
        ValueError: no table gene ID is a GFF3 gene (naming examples of each side and a hint).
    """
    ids = [str(t) for t in table_ids]
    gff_ids = [g for gen in genomes for g in gen["_ids"]]
    coding = {normalize_gene_id(g) for gen in genomes for g in gen["_coding"]}
    gset = {normalize_gene_id(g) for g in gff_ids}
    hit = [normalize_gene_id(t) in gset for t in ids]
    matched = sum(hit)
    hint = id_hint(ids, gff_ids, [n for gen in genomes for n in gen["_names"]])
    unmatched = [t for t, h in zip(ids, hit) if not h]
    if matched == 0:
        raise ValueError(
            f"no gene ID of the expression table is a gene of the GFF3: the table has e.g. "
            f"{_examples(ids, 3)}, the GFF3 e.g. {_examples(gff_ids, 3)}"
            + (f"; {hint}" if hint else "; both must come from the same annotation"))
    return {"table_genes": len(ids), "matched": matched,
            "matched_protein_coding": sum(normalize_gene_id(t) in coding for t in ids),
            "unmatched": len(unmatched), "unmatched_examples": _examples(unmatched),
            "gff_genes_without_expression": len(gset - {normalize_gene_id(t) for t in ids}),
            "hint": hint}


def check_inputs(species: Sequence[Species], expression: str | os.PathLike, *,
                 samples: str | os.PathLike | None = None, layout: str = "auto",
                 min_tpm: float | None = None,
                 cache_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Every check of ``cornlib init`` (see the module docstring); the report.

    Raises:
        FileNotFoundError: a file that does not exist.
        ValueError: a problem that stops a run (no shared sequence names, no matched gene, a
            table of no known layout, a bad value), naming the file and what to fix.
    """
    from cornlib.data import expression as ex
    from cornlib.data.filespec import local_path

    table = local_path(expression, f"--expression {expression}")
    sheet = local_path(samples, f"--samples {samples}") if samples is not None else None
    genomes = [check_genome(sp, cache_dir) for sp in species]
    spec = {"layout": layout, "samples": str(sheet) if sheet else None, "min_tpm": min_tpm}
    layout = ex.resolve_layout(table, spec)
    if layout == "genes_x_samples" and sheet is None:
        raise ValueError(f"{table}: a genes x samples table needs its sample sheet (--samples "
                         "SHEET with columns sample, tissue[, replicate])")
    targets, report = ex.load_expression({"table": table}, {**spec, "layout": layout})
    genes = match_genes(targets["gene_id"], genomes)
    per = next(iter(report.get("per_file", {}).values()), {})
    note = None
    if layout == "matrix":
        stems = [re.sub(r"[_.-]?(rep|r)?\d+$", "", t, flags=re.IGNORECASE)
                 for t in report["tissues"]]
        if len(set(stems)) < len(stems):
            note = (f"the columns look like replicates of fewer tissues ({report['tissues'][:4]}"
                    f" ...); if they are samples, give a sample sheet (--samples SHEET: columns "
                    "sample, tissue[, replicate]) so that replicates are averaged per tissue")
    return {"genomes": genomes, "expression": {
        "file": str(table), "samples": str(sheet) if sheet else None, "layout": layout,
        "tissues": report.get("tissues", []), "genes": report["genes"],
        "samples_per_tissue": per.get("samples_per_tissue", {}),
        "replicates": per.get("replicates", {}),
        "low_expression": report.get("low_expression", {}),
        "all_zero_genes": report.get("log", {}).get("all_zero_genes", 0), "note": note},
        "genes": genes}


def format_report(report: dict[str, Any]) -> str:
    """The checks as a few lines for the terminal."""
    out = []
    for g in report["genomes"]:
        out.append(f"{g['name']}: FASTA {g['fasta_sequences']} sequences, GFF3 "
                   f"{g['gff_sequences']}; {g['shared_sequences']} shared")
        if g["gff_only_count"]:
            out.append(f"  warning: {g['gff_only_count']} GFF3 sequence(s) are not in the FASTA "
                       f"(e.g. {g['gff_only']}); their {g['genes_off_fasta']} genes are left out")
        if g["fasta_only_count"]:
            out.append(f"  {g['fasta_only_count']} FASTA sequence(s) carry no annotated gene "
                       f"(e.g. {g['fasta_only'][:3]})")
        out.append(f"  {g['genes']} genes, {g['protein_coding']} protein-coding (these get "
                   "promoters)")
        p = g.get("proteins")
        if p:
            out.append(f"  proteins: {p['records']} records, {p['gff_genes']} GFF3 genes named "
                       "in their headers")
            if not p["gff_genes"]:
                out.append("  warning: no protein header names a GFF3 gene (gene:ID or "
                           "[locus_tag=ID]); chapter 3 then groups genes by promoter alone")
    e = report["expression"]
    reps = e["samples_per_tissue"]
    out.append(f"expression: {e['file']} read as {e['layout']}: {e['genes']} genes x "
               f"{len(e['tissues'])} tissues")
    if reps:
        detail = ", ".join(f"{t} {n}" for t, n in reps.items())
        out.append(f"  samples per tissue (replicates averaged): {detail}")
    else:
        out.append(f"  tissues: {', '.join(e['tissues'])}")
    if e["replicates"]:
        out.append("  replicates: " + "; ".join(f"{t}: {', '.join(r)}"
                                                for t, r in e["replicates"].items()))
    low = e["low_expression"]
    if low.get("min_tpm"):
        out.append(f"  {low['low_genes_dropped']} genes under {low['min_tpm']:g} TPM in every "
                   "tissue dropped")
    if e.get("note"):
        out.append(f"  warning: {e['note']}")
    if e["all_zero_genes"]:
        out.append(f"  {e['all_zero_genes']} genes have TPM 0 in every tissue (kept)")
    m = report["genes"]
    out.append(f"gene IDs: {m['matched']} of {m['table_genes']} table genes are GFF3 genes "
               f"({m['matched_protein_coding']} protein-coding); {m['unmatched']} unmatched"
               + (f" (e.g. {m['unmatched_examples']})" if m["unmatched"] else ""))
    if m["hint"]:
        out.append(f"  hint: {m['hint']}")
    if m["matched"] < 0.9 * m["table_genes"]:
        out.append("  warning: fewer than 90% of the table's genes match; the run uses only "
                   "the matched ones")
    return "\n".join(out)


# --- the profile ----------------------------------------------------------------------------------


def _yaml(key: str, value: Any, comment: str | None = None) -> str:
    import yaml

    nested = isinstance(value, dict) or (isinstance(value, list) and any(
        isinstance(v, (dict, list)) for v in value))
    if nested:
        text = yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=None,
                              width=1000).rstrip()
    else:  # a scalar or a flat list, on the key's line
        flow = yaml.safe_dump([value], default_flow_style=True, width=1000).strip()
        text = f"{key}: {flow[1:-1]}"
    if comment:
        lines = text.splitlines()
        lines[0] += f"   # {comment}"
        text = "\n".join(lines)
    return text


def profile_values(report: dict[str, Any], species: Sequence[Species], name: str,
                   *, min_tpm: float | None = None,
                   run_dir: str | os.PathLike | None = None) -> dict[str, tuple[Any, str | None]]:
    """The profile keys that differ from the small profile: ``{key: (value, comment)}``."""
    e = report["expression"]
    expression: dict[str, Any] = {"layout": e["layout"], "url": e["file"]}
    if e["samples"]:
        expression["samples"] = e["samples"]
    low = e["low_expression"].get("min_tpm")
    expression.update({"tissues": list(e["tissues"]), "replicate_agg": "mean",
                       "min_tpm": min_tpm if min_tpm is not None else low,
                       "drop_all_zero": False})
    specs = [{"name": sp.name, "label": sp.label or sp.name, "fasta": str(sp.fasta),
              "gff": str(sp.gff)} for sp in species]
    proteins = {sp.name: str(sp.proteins) for sp in species if sp.proteins}
    first = species[0].name
    return {
        "profile": (name, None),
        "run_dir": (str(run_dir or f"runs/{name}"), "where the results land"),
        "source": ("download", "genome specs below; local paths are read in place"),
        "species": (specs, "repeat an entry per genome (name, label, fasta, gff)"),
        "expression": (expression, "measured targets (cornlib.data.expression.load_targets)"),
        "n_tissues": (len(e["tissues"]), None),
        "protein_fasta": (proteins or None,
                          "{species: protein FASTA path}; null: genes grouped by promoter alone"),
        "cross_species_holdout": (f"species:{species[1].name}" if len(species) > 1 else None,
                                  "a second species is held out (null with one species)"),
        "holdout": (None, None),
        "corpus_genome_windows": (0, "the embedded genomes are Arabidopsis: none here"),
        "corpus_genomes": ([], None),
        "warm_start_species": (first, None),
        "variants_species": (first, "the genome a VCF is written against"),
        "recorded_run": (None, "the book's recorded run is of its own data, not yours"),
        "learning_curve": (None, "the book's learning curve is of its own data, not yours"),
    }


def small_profile() -> Path:
    """``profiles/small.yml`` of the checkout, else of the book the driver finds (``--book``
    discovery: the current folder and above, ``$CORNLIB_BOOK``)."""
    from cornlib import paths
    from cornlib.profiles import PROFILE_DIR

    path = PROFILE_DIR / "small.yml"
    if path.is_file():
        return path
    try:
        return paths.find_book() / "profiles" / "small.yml"
    except paths.BookNotFound as err:
        raise FileNotFoundError(f"cornlib init copies profiles/small.yml of the book, and {err}"
                                ) from None


def profile_text(values: dict[str, tuple[Any, str | None]], *, header: str,
                 template: str | os.PathLike | None = None) -> str:
    """The small profile's text with ``values`` replacing its keys (other lines and comments
    kept); keys absent from the template are appended."""
    path = Path(template) if template else small_profile()
    if not path.is_file():
        raise FileNotFoundError(f"the template profile {path} does not exist (cornlib init "
                                "copies the small profile's settings from it)")
    lines = path.read_text().splitlines()
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    out, done, skip = [], set(), False
    for line in lines:
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*):(.*)$", line)
        if skip and (line.startswith((" ", "-")) or not line.strip()) and not m:
            if not line.strip():
                out.append(line)
            continue
        skip = False
        if m and m.group(1) in values:
            key = m.group(1)
            value, comment = values[key]
            kept = m.group(2).split("#", 1)[1].strip() if "#" in m.group(2) else None
            out.append(_yaml(key, value, comment or kept))
            done.add(key)
            skip = not m.group(2).split("#")[0].strip()  # a block value follows
            continue
        out.append(line)
    out += [_yaml(k, *values[k]) for k in values if k not in done]
    return header.rstrip() + "\n" + "\n".join(out) + "\n"


def header(report: dict[str, Any], command: str) -> str:
    """The comment block on top of a written profile."""
    names = ", ".join(g["name"] for g in report["genomes"])
    return "\n".join([
        f"# Profile written by `{command}`",
        f"# Your own data: {names}, measured expression ({report['expression']['layout']}, "
        f"{len(report['expression']['tissues'])} tissues).",
        "# The small profile's settings (CPU, minutes); raise the sizes for a real model (see",
        "# profiles/full.yml for a GPU's). Several species: add entries under 'species' (and",
        "# 'protein_fasta'), or rerun cornlib init with --fasta/--gff/--name repeated.",
        "# Run it: cornlib run --profile THIS_FILE.yml",
    ])


def write_profile(path: str | os.PathLike, text: str, *, force: bool = False) -> Path:
    """Write the profile atomically; an existing file is kept unless ``force``.

    Raises:
        FileExistsError: ``path`` exists and ``force`` is false.
        ValueError: ``path`` does not end in ``.yml``/``.yaml``.
    """
    from cornlib.io import atomic_path

    path = Path(path)
    if path.suffix not in {".yml", ".yaml"}:
        raise ValueError(f"{path}: a profile file ends in .yml (cornlib run --profile reads it)")
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; choose another name or pass --force")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)
    return path


def init(path: str | os.PathLike, species: Sequence[Species], expression: str | os.PathLike, *,
         samples: str | os.PathLike | None = None, layout: str = "auto",
         min_tpm: float | None = None, force: bool = False, command: str = "cornlib init",
         cache_dir: str | os.PathLike | None = None) -> tuple[Path, dict[str, Any]]:
    """Check the inputs together (:func:`check_inputs`), then write the profile.

    Returns:
        ``(profile path, report)``; nothing is written when a check fails.
    """
    path = Path(path)
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; choose another name or pass --force")
    report = check_inputs(species, expression, samples=samples, layout=layout, min_tpm=min_tpm,
                          cache_dir=cache_dir)
    values = profile_values(report, species, path.stem, min_tpm=min_tpm,
                            run_dir=path.resolve().parent / "runs" / path.stem)
    text = profile_text(values, header=header(report, command))
    return write_profile(path, text, force=force), report
