"""FloraBERT's promoter pipeline (bedtools flank → subtract → nearest fragment → getfasta), run
as a reference that :func:`cornlib.data.promoters.extract` is checked against."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from cornlib.data import genome
from cornlib.data.promoters import extract


def verify_with_bedtools(files, upstream: int = 1000,
                         cache_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Compare :func:`extract` with FloraBERT's bedtools pipeline on one genome.

    Both run with the pipeline's semantics (every gene, clipped windows kept, letters and case
    as in the FASTA, ``downstream=0``).

    Returns:
        ``{"bedtools": version or "not installed", "promoters": n, "identical": n,
        "only_cornlib": n, "only_bedtools": n}`` (counts missing when bedtools is absent).
    """
    import shutil
    import subprocess

    if shutil.which("bedtools") is None:
        return {"bedtools": "not installed"}
    version = subprocess.run(["bedtools", "--version"], capture_output=True, text=True).stdout.strip()
    ours, _ = extract(files.fasta, files.gff, files.species, upstream=upstream, downstream=0,
                      trim_neighbours=True, min_length=0, max_n_fraction=1.0, edge_policy="flag",
                      soft_mask="keep", biotypes=None, iupac="keep", cache_dir=cache_dir)
    ref = bedtools_reference(files.fasta, files.gff, upstream=upstream, cache_dir=cache_dir)
    m = ref.merge(ours, on="gene_id", how="outer", suffixes=("_bt", ""), indicator=True)
    both = m[m["_merge"] == "both"]
    same = ((both["sequence_bt"] == both["sequence"]) & (both["start_bt"] == both["start"])
            & (both["end_bt"] == both["end"]) & (both["strand_bt"] == both["strand"]))
    return {"species": files.species, "bedtools": version, "promoters": int(len(m)),
            "identical": int(same.sum()), "only_cornlib": int((m["_merge"] == "right_only").sum()),
            "only_bedtools": int((m["_merge"] == "left_only").sum())}


# awk: GFF3 gene lines -> BED6 named as read_genes names genes (locus_tag, gene_id, ID)
_AWK_GENES = r"""BEGIN { FS = OFS = "\t" }
/^##FASTA/ { exit }
/^#/ || $3 != "gene" { next }
{ a = ";" $9; id = ""
  if (match(a, /;[ ]*locus_tag=[^;]*/)) {
    id = substr(a, RSTART, RLENGTH); sub(/^;[ ]*locus_tag=/, "", id) }
  if (id == "" && match(a, /;[ ]*gene_id=[^;]*/)) {
    id = substr(a, RSTART, RLENGTH); sub(/^;[ ]*gene_id=/, "", id) }
  if (id == "" && match(a, /;[ ]*ID=[^;]*/)) {
    id = substr(a, RSTART, RLENGTH); sub(/^;[ ]*ID=/, "", id); sub(/^gene[-:]/, "", id) }
  print $1, $4 - 1, $5, id, 0, $7 }"""
# awk: of the fragments of one flank (in coordinate order), keep the one nearest the TSS
_AWK_NEAREST = r"""BEGIN { FS = OFS = "\t" }
{ if ($6 == "-") { if (!($4 in r)) { r[$4] = $0; order[++n] = $4 } }
  else { if (!($4 in r)) order[++n] = $4; r[$4] = $0 } }
END { for (i = 1; i <= n; i++) print r[order[i]] }"""


def bedtools_command(fasta: str | os.PathLike, gff: str | os.PathLike, upstream: int,
                     workdir: str | os.PathLike) -> str:
    """FloraBERT's promoter pipeline as one shell command (bedtools + awk), for verification.

    ``fasta`` must be a plain FASTA with a ``.fai`` beside it
    (:func:`cornlib.data.genome.prepare_fasta` makes one); the output is ``bedtools getfasta -tab`` lines
    ``GENE_ID::CHROM:START-END(STRAND)<tab>SEQUENCE``.
    """
    import shlex

    w = Path(workdir)
    q = shlex.quote
    return (
        "set -euo pipefail; "
        f"cut -f1,2 {q(str(fasta))}.fai > {q(str(w / 'genome.txt'))}; "
        f"gzip -cdf {q(str(gff))} | awk {q(_AWK_GENES)} > {q(str(w / 'genes.bed'))}; "
        f"bedtools flank -i {q(str(w / 'genes.bed'))} -g {q(str(w / 'genome.txt'))}"
        f" -l {int(upstream)} -r 0 -s"
        f" | bedtools subtract -a - -b {q(str(w / 'genes.bed'))}"
        f" | awk {q(_AWK_NEAREST)}"
        f" | bedtools getfasta -fi {q(str(fasta))} -bed - -s -name -tab")


def bedtools_reference(fasta: str | os.PathLike, gff: str | os.PathLike, *, upstream: int = 1000,
                       cache_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Promoters from FloraBERT's bedtools pipeline (see :func:`bedtools_command`).

    Untouched by any of this module's filters: every gene feature, clipped windows kept,
    letters and case as in the FASTA. Needs ``bedtools`` and ``awk`` on ``PATH``.

    Returns:
        Columns ``gene_id, chrom, start, end, strand, sequence`` (0-based half-open).

    Raises:
        FileNotFoundError: if ``bedtools`` is not installed.
        RuntimeError: if the pipeline fails (with its stderr).
    """
    import shutil
    import subprocess
    import tempfile

    if shutil.which("bedtools") is None:
        raise FileNotFoundError("bedtools is not on PATH (install it, e.g. `apt-get install bedtools`)")
    plain = genome.prepare_fasta(fasta, cache_dir)
    with tempfile.TemporaryDirectory(prefix="cornlib-bedtools-") as work:
        res = subprocess.run(["bash", "-c", bedtools_command(plain, gff, upstream, work)],
                             capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(f"bedtools pipeline failed ({res.returncode}): {res.stderr[-2000:]}")
    return parse_getfasta(res.stdout)


def parse_getfasta(text: str) -> pd.DataFrame:
    """Parse ``bedtools getfasta -name -s -tab`` output into a table (see :func:`bedtools_reference`)."""
    import re

    pattern = re.compile(r"^(.*)::(.*):(\d+)-(\d+)\(([+-])\)\t(\S*)$")
    rows = []
    for line in text.splitlines():
        m = pattern.match(line)
        if m is None:
            raise ValueError(f"unexpected bedtools getfasta line: {line[:100]!r}")
        gene_id, chrom, s, e, strand, seq = m.groups()
        rows.append((gene_id, chrom, int(s), int(e), strand, seq))
    return pd.DataFrame(rows, columns=["gene_id", "chrom", "start", "end", "strand", "sequence"])
