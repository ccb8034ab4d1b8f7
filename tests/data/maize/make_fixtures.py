"""Regenerate the maize fixtures: tiny synthetic content in the real published formats.

- ``Zea_mays.Zm-B73-REFERENCE-NAM-5.0.dna.toplevel.mini.fa.gz``: gzip FASTA with Ensembl Plants
  headers (``>1 dna:chromosome chromosome:Zm-B73-REFERENCE-NAM-5.0:1:1:6000:1 REF``), 60 bases a
  line, random bases and an N gap (two chromosomes of 6 and 5 kb).
- ``Zea_mays.Zm-B73-REFERENCE-NAM-5.0.57.mini.gff3.gz``: gzip GFF3 as Ensembl Plants 57 writes it
  (pragmas, ``chromosome`` lines, ``ID=gene:Zm00001eb...``, ``transcript:..._T001``, exon/CDS/UTR,
  ``###`` separators; one ``ncRNA_gene``), six genes on both strands, one 300 bp from a chrom start.
- ``CHECKSUMS``: Ensembl's checksum file (BSD ``sum``: checksum, 1 KiB blocks, name) of both.
- ``B73_full-tpm.mini.tsv`` / ``B97_full-tpm.mini.tsv``: the NAM per-line TPM layout (CyVerse
  ``NAM_pangene_expression_counts_per_tissue-TPM/<LINE>_full-tpm.tsv``): ``PanGeneID, Geneid, Chr,
  Start, End, Strand, Length`` then one column per library ``LINE_STAGE_TISSUE_LIBRARY`` (the 22
  B73 library names of the NAM RNA-seq: 10 tissues, 2-3 replicates). Rows: genes of the GFF3, one
  gene absent from it (Zm00001eb000070), an all-zero gene, a pan-gene not annotated in the line
  (``chr3:10001-12000``); B97 shares pan-genes and has one of its own (pan_gene_8).

The numbers and sequences are invented; only the layouts are real. Run from the repository root:
``python tests/data/maize/make_fixtures.py``. Output is deterministic (seeded RNG, gzip mtime 0),
so re-running leaves the committed files unchanged.
"""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ASSEMBLY = "Zm-B73-REFERENCE-NAM-5.0"
FASTA = HERE / f"Zea_mays.{ASSEMBLY}.dna.toplevel.mini.fa.gz"
GFF = HERE / f"Zea_mays.{ASSEMBLY}.57.mini.gff3.gz"
CHROMS = {"1": 6000, "2": 5000}
# gene, chrom, start, end (1-based closed), strand, biotype
GENES = [
    ("Zm00001eb000010", "1", 1201, 2400, "+", "protein_coding"),
    ("Zm00001eb000020", "1", 3001, 4200, "-", "protein_coding"),
    ("Zm00001eb000030", "1", 5401, 5900, "+", "protein_coding"),
    ("Zm00001eb000040", "2", 301, 1500, "+", "protein_coding"),
    ("Zm00001eb000050", "2", 2001, 3000, "-", "lncRNA"),
    ("Zm00001eb000060", "2", 3501, 4600, "-", "protein_coding"),
]
LIBRARIES = [  # stage, tissue token, library ids (NAM RNA-seq naming: LINE_STAGE_TISSUE_LIBRARY)
    ("8DAS", "root", ["1011", "1012"]), ("8DAS", "shoot", ["1021", "1022"]),
    ("V11", "base", ["1031", "1032"]), ("V11", "middle", ["1041", "1042", "1043"]),
    ("V11", "tip", ["1051", "1052"]), ("V18", "tassel", ["1061", "1062"]),
    ("V18", "ear", ["1071", "1072"]), ("R1", "anther", ["1081", "1082", "A1081"]),
    ("16DAP", "endosperm", ["1091", "1092"]), ("16DAP", "embryo", ["1101", "1102"]),
]


def fasta_text(rng: np.random.Generator) -> str:
    """Ensembl toplevel FASTA: one record per chromosome, 60 bases a line, an N gap."""
    out = []
    for chrom, length in CHROMS.items():
        seq = "".join(rng.choice(list("ACGT"), size=length))
        seq = seq[:2600] + "N" * 50 + seq[2650:]
        out.append(f">{chrom} dna:chromosome chromosome:{ASSEMBLY}:{chrom}:1:{length}:1 REF")
        out += [seq[i:i + 60] for i in range(0, length, 60)]
    return "\n".join(out) + "\n"


def gff_text() -> str:
    """Ensembl Plants 57 GFF3 for maize: pragmas, chromosome lines, gene/mRNA/exon/CDS/UTR."""
    lines = ["##gff-version 3"]
    lines += [f"##sequence-region   {c} 1 {n}" for c, n in CHROMS.items()]
    lines += [f"#!genome-build  {ASSEMBLY}", f"#!genome-version {ASSEMBLY}",
              "#!genome-date 2020-03", "#!genome-build-accession GCA_902167145.1",
              "#!genebuild-last-updated 2020-03"]
    for chrom, length in CHROMS.items():
        lines.append(f"{chrom}\t{ASSEMBLY}\tchromosome\t1\t{length}\t.\t.\t.\t"
                     f"ID=chromosome:{chrom};Alias=chr{chrom}")
        lines.append("###")
        for gid, c, start, end, strand, biotype in GENES:
            if c != chrom:
                continue
            tid, pid = f"{gid}_T001", f"{gid}_P001"
            coding = biotype == "protein_coding"
            gtype, ttype = ("gene", "mRNA") if coding else ("ncRNA_gene", "lnc_RNA")
            lines.append(f"{c}\tNAM\t{gtype}\t{start}\t{end}\t.\t{strand}\t.\tID=gene:{gid};"
                         f"biotype={biotype};gene_id={gid};logic_name=cshl_gene")
            lines.append(f"{c}\tNAM\t{ttype}\t{start}\t{end}\t.\t{strand}\t.\tID=transcript:{tid};"
                         f"Parent=gene:{gid};biotype={biotype};tag=Ensembl_canonical;"
                         f"transcript_id={tid}")
            mid = (start + end) // 2
            exons = [(start, mid - 100), (mid + 100, end)]
            utr5 = (start, start + 49) if strand == "+" else (end - 49, end)
            if coding:
                lines.append(f"{c}\tNAM\tfive_prime_UTR\t{utr5[0]}\t{utr5[1]}\t.\t{strand}\t.\t"
                             f"Parent=transcript:{tid}")
            for rank, (a, b) in enumerate(exons if strand == "+" else exons[::-1], 1):
                lines.append(f"{c}\tNAM\texon\t{a}\t{b}\t.\t{strand}\t.\tParent=transcript:{tid};"
                             f"Name={tid}.exon{rank};constitutive=1;exon_id={tid}.exon{rank};"
                             f"rank={rank}")
            if coding:
                cds = [(max(a, utr5[1] + 1) if strand == "+" else a,
                        b if strand == "+" else min(b, utr5[0] - 1)) for a, b in exons]
                for a, b in cds:
                    lines.append(f"{c}\tNAM\tCDS\t{a}\t{b}\t.\t{strand}\t0\tID=CDS:{pid};"
                                 f"Parent=transcript:{tid};protein_id={pid}")
            lines.append("###")
    return "\n".join(lines) + "\n"


def library_id(code: str, mn: str) -> str:
    """``("1011", "01")`` → ``MN01011``; a re-sequenced library ``("A1081", "01")`` → ``MNA1081``."""
    return f"MNA{mn[1]}{code[2:]}" if code.startswith("A") else f"MN{mn}{code[1:]}"


def tpm_text(line: str, genes: list[tuple[str, str, str]], mn: str,
             rng: np.random.Generator) -> str:
    """A NAM ``<LINE>_full-tpm.tsv``: PanGeneID, featureCounts columns, one TPM column a library."""
    libs = [f"{line}_{stage}_{tissue}_{library_id(code, mn)}"
            for stage, tissue, codes in LIBRARIES for code in codes]
    header = ["PanGeneID", "Geneid", "Chr", "Start", "End", "Strand", "Length"] + libs
    rows = ["\t".join(header)]
    for pan, geneid, level in genes:
        if geneid.startswith("chr"):
            chrom, span = geneid.split(":")
            a, b = span.split("-")
            meta = [chrom, a, b, "+", str(int(b) - int(a) + 1)]
        else:
            g = next((x for x in GENES if x[0][-6:] == geneid.split("_")[0][-6:]), None)
            meta = ([f"chr{g[1]}", str(g[2]), str(g[3]), g[4], str(g[3] - g[2] + 1)] if g
                    else ["chr2", "5001", "5600", "+", "600"])
        if level == "zero":
            values = [0.0] * len(libs)
        else:
            tissue_effect = rng.normal(0, 1.0, size=len(LIBRARIES))
            per_lib = np.concatenate([np.full(len(ids), t) for t, (_, _, ids)
                                      in zip(tissue_effect, LIBRARIES)])
            values = np.exp(float(level) + per_lib + rng.normal(0, 0.2, size=len(libs)))
            values[rng.random(len(libs)) < 0.1] = 0.0
        rows.append("\t".join([pan, geneid, *meta] + [f"{v:.6f}" for v in values]))
    return "\n".join(rows) + "\n"


def main() -> None:
    rng = np.random.default_rng(73)
    FASTA.write_bytes(gzip.compress(fasta_text(rng).encode(), mtime=0))
    GFF.write_bytes(gzip.compress(gff_text().encode(), mtime=0))
    sums = []
    for path in (FASTA, GFF):
        checksum, blocks = subprocess.run(["sum", "-r", str(path)], capture_output=True,
                                          text=True, check=True).stdout.split()[:2]
        sums.append(f"{int(checksum):05d} {int(blocks):5d} {path.name}")
    (HERE / "CHECKSUMS").write_text("\n".join(sums) + "\n")
    b73 = [("pan_gene_1", "Zm00001eb000010_T001", "3.0"), ("pan_gene_2", "Zm00001eb000020_T001", "1.5"),
           ("pan_gene_3", "Zm00001eb000030_T001", "zero"), ("pan_gene_4", "Zm00001eb000040_T001", "4.0"),
           ("pan_gene_5", "Zm00001eb000050_T001", "0.5"), ("pan_gene_6", "Zm00001eb000070_T001", "2.0"),
           ("pan_gene_7", "chr3:10001-12000", "1.0")]
    b97 = [("pan_gene_1", "Zm00018ab000010_T001", "3.2"), ("pan_gene_2", "Zm00018ab000020_T001", "1.0"),
           ("pan_gene_3", "Zm00018ab000030_T001", "zero"), ("pan_gene_4", "Zm00018ab000040_T001", "3.5"),
           ("pan_gene_5", "Zm00018ab000050_T001", "0.8"), ("pan_gene_6", "chr2:7001-7800", "1.0"),
           ("pan_gene_8", "Zm00018ab000090_T001", "2.5")]
    (HERE / "B73_full-tpm.mini.tsv").write_text(tpm_text("B73", b73, "01", rng))
    (HERE / "B97_full-tpm.mini.tsv").write_text(tpm_text("B97", b97, "03", rng))


if __name__ == "__main__":
    main()
