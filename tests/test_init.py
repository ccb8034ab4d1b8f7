"""``cornlib init`` on the embedded TAIR10 chromosome with small hand-written TPM tables and
sample sheets: the checks report counts and name what is wrong; the profile it writes loads,
keeps the small profile's settings and reads the lab's files in place."""

import numpy as np
import pytest
import yaml

from cornlib import cli, init, profiles
from cornlib.data import embedded, expression, gff, sources

SAMPLES = [f"{t}_{r}" for t in ("root", "leaf", "flower") for r in (1, 2)]


@pytest.fixture(scope="module")
def tair():
    return embedded.locate("athaliana")


@pytest.fixture(scope="module")
def genes(tair):
    table = gff.read_genes(tair.gff)
    return table.loc[table["biotype"] == "protein_coding", "gene_id"].head(40).tolist()


def _table(tmp_path, ids, *, bad=None, name="tpm.tsv"):
    rng = np.random.default_rng(0)
    rows = ["gene_id\t" + "\t".join(SAMPLES)]
    for i, g in enumerate(ids):
        vals = [f"{v:.2f}" for v in rng.gamma(1.0, 10.0, len(SAMPLES))]
        if bad and i == 3:
            vals[2] = bad
        rows.append(g + "\t" + "\t".join(vals))
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n")
    return path


def _sheet(tmp_path, samples=SAMPLES):
    path = tmp_path / "samples.tsv"
    path.write_text("sample\ttissue\treplicate\n" + "".join(
        f"{s}\t{s.split('_')[0]}\t{s.split('_')[1]}\n" for s in samples))
    return path


def _args(tair, out, table, *extra):
    return ["init", str(out), "--fasta", str(tair.fasta), "--gff", str(tair.gff),
            "--expression", str(table), *extra]


def test_init_checks_reports_and_writes_a_profile_that_loads(tair, genes, tmp_path, capsys):
    out = tmp_path / "lab.yml"
    table, sheet = _table(tmp_path, genes + ["NOT_A_GENE"]), _sheet(tmp_path)
    code = cli.main(_args(tair, out, table, "--samples", str(sheet), "--name", "athal"))
    err = capsys.readouterr().err
    assert code == 0, err
    assert "athal: FASTA 1 sequences, GFF3 1; 1 shared" in err
    assert "read as genes_x_samples: 41 genes x 3 tissues" in err
    assert "samples per tissue (replicates averaged): root 2, leaf 2, flower 2" in err
    assert "40 of 41 table genes are GFF3 genes (40 protein-coding); 1 unmatched " \
           "(e.g. ['NOT_A_GENE'])" in err
    text = out.read_text()
    assert text.startswith("# Profile written by `cornlib init")
    assert "split_refine: true      # also search all-against-all" in text  # small's comments
    params = profiles.load(out)
    small = profiles.load("small")
    assert params["source"] == "download" and params["n_tissues"] == 3
    assert params["species"] == [{"name": "athal", "label": "athal", "fasta": str(tair.fasta),
                                  "gff": str(tair.gff)}]
    assert params["expression"]["layout"] == "genes_x_samples"
    assert params["expression"]["tissues"] == ["root", "leaf", "flower"]
    assert params["cross_species_holdout"] is None and params["warm_start_species"] == "athal"
    assert params["recorded_run"] is None  # the book's recorded run is of its data
    assert params["learning_curve"] is None
    same = {k for k in small if k not in init.profile_values(
        {"expression": {"layout": "x", "file": "f", "samples": None, "tissues": [],
                        "low_expression": {}}}, [init.Species("a", tair.fasta, tair.gff)],
        "lab")}
    assert {k: params[k] for k in same} == {k: small[k] for k in same}
    # the profile's files are read in place by the loaders the notebooks call
    (files,) = sources.resolve(params["source"], params["species"])
    assert files.fasta == tair.fasta
    targets = expression.load_targets(params["expression"])
    assert list(targets.columns) == ["gene_id", "root", "leaf", "flower"]


@pytest.mark.parametrize("change, message", [
    (lambda g: [x + ".1" for x in g], r"the table's IDs carry a transcript suffix .*"
                                     r"\(40 of 40 would match\)"),
    (lambda g: ["gene-" + x for x in g], "carry a type prefix"),
    (lambda g: [x.lower() for x in g], "differ in letter case"),
])
def test_id_mismatches_get_a_hint(tair, genes, tmp_path, capsys, change, message):
    out = tmp_path / "lab.yml"
    table = _table(tmp_path, change(genes))
    assert cli.main(_args(tair, out, table, "--samples", str(_sheet(tmp_path)))) == 2
    err = capsys.readouterr().err
    assert "no gene ID of the expression table is a gene of the GFF3" in err
    assert pytest.importorskip("re").search(message, err), err
    assert not out.exists()


@pytest.mark.parametrize("bad, message", [
    ("-1", "negative value '-1' for gene"),
    ("NA", r"missing value \(NaN\) 'NA' for gene"),
    ("high", "non-numeric value 'high' for gene"),
])
def test_bad_values_stop_init_naming_gene_and_sample(tair, genes, tmp_path, capsys, bad,
                                                     message):
    out = tmp_path / "lab.yml"
    table = _table(tmp_path, genes, bad=bad)
    assert cli.main(_args(tair, out, table, "--samples", str(_sheet(tmp_path)))) == 2
    err = capsys.readouterr().err
    assert pytest.importorskip("re").search(message + f" '{genes[3]}' in column 'leaf_1'", err)
    assert not out.exists()


def test_a_sheet_missing_a_sample_is_named(tair, genes, tmp_path, capsys):
    sheet = _sheet(tmp_path, SAMPLES[:-1])
    assert cli.main(_args(tair, tmp_path / "x.yml", _table(tmp_path, genes),
                          "--samples", str(sheet))) == 2
    assert "1 table column(s) are not in the sheet (e.g. ['flower_2'])" in capsys.readouterr().err


def test_replicate_columns_without_a_sheet_get_a_warning(tair, genes, tmp_path, capsys):
    assert cli.main(_args(tair, tmp_path / "x.yml", _table(tmp_path, genes))) == 0
    err = capsys.readouterr().err
    assert "read as matrix" in err and "look like replicates" in err


def test_missing_files_and_mismatched_sequence_names(tair, genes, tmp_path, capsys):
    assert cli.main(_args(tair, tmp_path / "x.yml", tmp_path / "none.tsv")) == 2
    assert f"--expression {tmp_path}/none.tsv: local file" in capsys.readouterr().err
    other = tmp_path / "other.gff3"
    other.write_text("##gff-version 3\nchr1\tx\tgene\t1\t100\t.\t+\t.\tID=g1\n")
    args = ["init", str(tmp_path / "x.yml"), "--fasta", str(tair.fasta), "--gff", str(other),
            "--expression", str(_table(tmp_path, ["g1"]))]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "no GFF3 sequence name is a FASTA record" in err and "['chr1']" in err


def test_an_existing_profile_is_kept_unless_forced(tair, genes, tmp_path, capsys):
    out = tmp_path / "lab.yml"
    out.write_text("keep: me\n")
    table, sheet = _table(tmp_path, genes), _sheet(tmp_path)
    assert cli.main(_args(tair, out, table, "--samples", str(sheet))) == 2
    assert "exists" in capsys.readouterr().err and out.read_text() == "keep: me\n"
    assert cli.main(_args(tair, out, table, "--samples", str(sheet), "--force")) == 0


def test_two_species_get_two_specs_and_a_cross_species_holdout(tair, genes, tmp_path):
    table, sheet = _table(tmp_path, genes), _sheet(tmp_path)
    out = tmp_path / "two.yml"
    args = ["init", str(out), "--fasta", str(tair.fasta), "--gff", str(tair.gff), "--name", "a",
            "--fasta", str(tair.fasta), "--gff", str(tair.gff), "--name", "b",
            "--expression", str(table), "--samples", str(sheet)]
    assert cli.main(args) == 0
    params = yaml.safe_load(out.read_text())
    assert [s["name"] for s in params["species"]] == ["a", "b"]
    assert params["cross_species_holdout"] == "species:b"
    with pytest.raises(ValueError, match="one --gff per --fasta"):
        init.species_list([str(tair.fasta)] * 2, [str(tair.gff)])


def test_proteins_are_counted_against_the_gff_genes(tair, genes, tmp_path, capsys):
    proteins = tair.fasta.parent / "AthaTAIR10_chr1_protein.faa.gz"
    out = tmp_path / "lab.yml"
    assert cli.main(_args(tair, out, _table(tmp_path, genes), "--samples",
                          str(_sheet(tmp_path)), "--proteins", str(proteins),
                          "--name", "athaliana")) == 0
    err = capsys.readouterr().err
    # NCBI protein headers name no gene (its CDS file maps them): init says so
    assert pytest.importorskip("re").search(r"proteins: \d+ records, 0 GFF3 genes named", err)
    assert "no protein header names a GFF3 gene" in err
    assert profiles.load(out)["protein_fasta"] == {"athaliana": str(proteins)}
