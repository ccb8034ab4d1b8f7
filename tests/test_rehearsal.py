"""The full profile rehearsed offline: a loopback HTTP mirror in Ensembl Plants' layout (genome
FASTA, GFF3 and pep files with the CHECKSUMS file beside them) and NAM-style TPM tables, built
from the embedded genomes, driven through ``cornlib run --profile full`` with overrides to the
tiny profile's sizes.

What it proves: the full profile's download specs (``checksums: ensembl``, protein files with
``checksums_url``, the NAM ``{line}`` URL) fetch, verify and decompress through the driver, and
chapters 1-7 run on measured targets (1-3 for the second NAM layout). What only a real download
can show: the real servers, file sizes and formats (maize's GFF3, the NAM tables as published).
"""

from __future__ import annotations

import functools
import gzip
import http.server
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cornlib import profiles, run
from cornlib.data import embedded, filespec, gff
from cornlib.split import proteins

RELEASE = "/pub/plants/release-57"
#: Embedded genome -> the Ensembl-style file stem it is served under.
SPECIES = {"athaliana": "Arabidopsis_thaliana.TAIR10", "aarenosa": "Arabidopsis_arenosa.AARE701a"}
TISSUES = ["root", "shoot", "leaf_middle", "anther"]
#: Chapters rehearsed per layout: the layouts differ only in chapter 1's reading, so the second
#: stops after the split. Chapters 8-10 need the measured-data changes of issue 17 (the noise
#: ceiling, the oracle and the true sites exist only for simulated targets).
CHAPTERS = {"nam_tpm": ["01", "02", "03", "04", "05", "06", "07"],
            "samples_x_genes": ["01", "02", "03"]}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # noqa: D401 (keep pytest output clean)
        pass


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    """Serve a folder over loopback HTTP; yield ``(root folder, base URL)``."""
    root = tmp_path_factory.mktemp("mirror")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _checksums(folder: Path) -> None:
    """Ensembl's CHECKSUMS file (BSD ``sum``) for every file of ``folder``."""
    lines = []
    for path in sorted(folder.iterdir()):
        if path.name != "CHECKSUMS":
            s, blocks = filespec.bsd_sum(path)
            lines.append(f"{s} {blocks} {path.name}")
    (folder / "CHECKSUMS").write_text("\n".join(lines) + "\n")


def _ensembl_files(root: Path, key: str, stem: str) -> dict[str, str]:
    """Copy one embedded genome into the Ensembl layout; return its URL paths."""
    files = embedded.locate(key)
    sp = stem.split(".")[0].lower()
    dna, gff3, pep = (root / RELEASE.lstrip("/") / d for d in
                      (f"fasta/{sp}/dna", f"gff3/{sp}", f"fasta/{sp}/pep"))
    for folder in (dna, gff3, pep):
        folder.mkdir(parents=True, exist_ok=True)
    (dna / f"{stem}.dna.toplevel.fa.gz").write_bytes(
        gzip.compress(gzip.decompress(files.fasta.read_bytes()), compresslevel=1))  # plain gzip
    (gff3 / f"{stem}.57.gff3.gz").write_bytes(files.gff.read_bytes())
    table = proteins.read_proteins(proteins.embedded_sources([key]))
    table = table[table["gene_id"] != ""]
    text = "".join(f">{p} pep gene:{g} transcript:{p}\n{s}\n"
                   for p, g, s in zip(table["protein_id"], table["gene_id"], table["sequence"]))
    (pep / f"{stem}.pep.all.fa.gz").write_bytes(gzip.compress(text.encode()))
    for folder in (dna, gff3, pep):
        _checksums(folder)
    rel = lambda p: "/" + p.relative_to(root).as_posix()  # noqa: E731
    return {"fasta": rel(dna / f"{stem}.dna.toplevel.fa.gz"),
            "gff": rel(gff3 / f"{stem}.57.gff3.gz"),
            "pep": rel(pep / f"{stem}.pep.all.fa.gz"), "pep_dir": rel(pep)}


def _genes() -> list[str]:
    out = []
    for key in SPECIES:
        table = gff.read_genes(embedded.locate(key).gff)
        out += table.loc[table["biotype"] == "protein_coding", "gene_id"].tolist()
    return out


def _nam_tables(root: Path, genes: list[str]) -> None:
    """The NAM consortium's pan-gene table (B73) and FloraBERT's samples x genes file (Mo17)."""
    rng = np.random.default_rng(0)
    folder = root / "NAM"
    folder.mkdir()
    tokens = {"root": "root", "shoot": "shoot", "leaf_middle": "middle", "anther": "anther"}
    libs = {f"B73_V11_{tokens[t]}_MN{k}{r}": t for k, t in enumerate(TISSUES) for r in range(2)}
    tpm = rng.gamma(0.8, 20.0, (len(genes), len(libs))).round(3)
    pan = pd.DataFrame({"PanGeneID": [f"pan_gene_{i}" for i in range(len(genes))],
                        "Geneid": genes, "Chr": "chr1", "Start": 1, "End": 100, "Strand": "+",
                        "Length": 100})
    pd.concat([pan, pd.DataFrame(tpm, columns=list(libs))], axis=1).to_csv(
        folder / "B73_full-tpm.tsv", sep="\t", index=False)
    parts = {"shoot": "shoot system", "leaf_middle": "leaf", "root": "root", "anther": "anther"}
    rows = pd.DataFrame(tpm.T, columns=genes)
    rows.insert(0, "organism_part", [parts[t] for t in libs.values()])
    rows.insert(0, "Cultivar", "Mo17")
    rows.to_csv(folder / "Mo17_TPM_expression_counts_aligned_against_own_genome.txt", sep="\t",
                index=False)


def _overrides(base: str, files: dict, layout: str, cache: Path) -> dict:
    """The full profile's data keys pointed at the mirror, every size key at tiny's."""
    tiny, full = profiles.load("tiny"), profiles.load("full")
    sizes = {k: v for k, v in tiny.items() if k in full and k not in {
        "profile", "run_dir", "source", "species", "expression", "protein_fasta", "cache_dir",
        "cross_species_holdout", "corpus_genomes", "corpus_genome_windows", "n_tissues",
        "variants_species", "warm_start_species"}}
    species = [{"name": k, "label": f"{k} (loopback mirror)", "fasta": base + f["fasta"],
                "gff": base + f["gff"], "checksums": "ensembl"} for k, f in files.items()]
    if layout == "nam_tpm":
        expression = {"layout": "nam_tpm", "url": base + "/NAM/{line}_full-tpm.tsv",
                      "lines": ["B73"], "tissues": TISSUES}
    else:
        expression = {"layout": "samples_x_genes", "lines": ["Mo17"],
                      "url": base + "/NAM/{line}_TPM_expression_counts_aligned_against_"
                                    "own_genome.txt", "tissues": ["root", "shoot", "anther"],
                      "tissue_names": {"leaf": "leaf_middle"}}
    return {**sizes, "source": "download", "species": species, "expression": expression,
            "protein_fasta": {k: {"url": base + f["pep"],
                                  "checksums_url": base + f["pep_dir"] + "/CHECKSUMS"}
                              for k, f in files.items()},
            "cache_dir": str(cache), "cross_species_holdout": "species:aarenosa",
            "warm_start_species": "athaliana", "variants_species": "athaliana",
            "corpus_genomes": [], "corpus_genome_windows": 0, "n_tissues": len(TISSUES)}


@pytest.fixture(scope="module")
def served(mirror):
    root, base = mirror
    files = {k: _ensembl_files(root, k, stem) for k, stem in SPECIES.items()}
    _nam_tables(root, _genes())
    return root, base, files


@pytest.mark.notebooks
@pytest.mark.parametrize("layout", ["nam_tpm", "samples_x_genes"])
def test_full_profile_chapters_run_from_a_loopback_mirror(served, tmp_path, layout):
    root, base, files = served
    cache = tmp_path / "cache"
    manifest = run.run_profile("full", only=CHAPTERS[layout], run_dir=str(tmp_path / "run"),
                               overrides=_overrides(base, files, layout, cache),
                               progress=False, timeout=1200)
    assert manifest.exists()
    done = run.read_manifest(tmp_path / "run")["notebooks"]
    assert all(done[n]["status"] == "ok" for n in done), done
    # every genome file was fetched once, verified against CHECKSUMS and decompressed
    for key in SPECIES:
        got = sorted(p.name for p in (cache / "genomes" / key).iterdir())
        assert any(n.endswith(".fa") for n in got) and any(n.endswith(".gff3") for n in got)
        assert any(n.endswith(".verified.json") for n in got)
    targets = pd.read_parquet(tmp_path / "run" / "targets" / "expression.parquet")
    want = TISSUES if layout == "nam_tpm" else ["root", "shoot", "anther"]
    assert [c for c in targets.columns if c != "gene_id"] == want
    if "07" in CHAPTERS[layout]:  # a fine-tuned model of the measured tissues
        import json

        config = json.loads((tmp_path / "run" / "finetune" / "random_init" / "model" /
                             "config.json").read_text())
        assert config["target_names"] == want


def test_the_mirror_serves_verified_files(served, tmp_path):
    """Quick check (no notebooks): the full profile's specs fetch and verify from the mirror."""
    from cornlib.data import download, expression

    root, base, files = served
    params = _overrides(base, files, "nam_tpm", tmp_path)
    genome = download.fetch_genome(params["species"][0], tmp_path, progress=False)
    assert genome.fasta.suffix == "" or genome.fasta.name.endswith(".fa")
    targets = expression.load_targets(params["expression"], tmp_path, progress=False)
    assert list(targets.columns) == ["gene_id", *TISSUES]
    sx = expression.load_targets(_overrides(base, files, "samples_x_genes", tmp_path)
                                 ["expression"], tmp_path, progress=False)
    assert list(sx.columns) == ["gene_id", "root", "shoot", "anther"]
    assert sx.attrs["report"]["low_expression"]["min_tpm"] == 1.0
