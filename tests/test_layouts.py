"""Expression layouts as labs have them: genes x samples + a sample sheet, samples x genes
(FloraBERT's NAM files), genes x tissues; detection, and bad values named by gene and sample."""

import numpy as np
import pandas as pd
import pytest

from cornlib.data import expression as ex
from cornlib.data import layouts

GENES = ["AT1G01010", "AT1G01020", "AT1G01030"]
SAMPLES = ["root_1", "root_2", "leaf_1", "leaf_2"]
TPM = np.array([[1.0, 3.0, 10.0, 20.0], [0.0, 0.0, 0.5, 0.1], [4.0, 4.0, 0.0, 2.0]])


def _genes_x_samples(tmp_path, values=TPM, genes=GENES, samples=SAMPLES, name="tpm.tsv"):
    df = pd.DataFrame(values, columns=samples).astype(object)
    df.insert(0, "gene_id", genes)
    path = tmp_path / name
    df.to_csv(path, sep="\t" if not name.endswith(".csv") else ",", index=False)
    return path


def _sheet(tmp_path, rows=None, header="sample\ttissue\treplicate"):
    rows = rows or ["root_1\troot\t1", "root_2\troot\t2", "leaf_1\tleaf\t1", "leaf_2\tleaf\t2"]
    path = tmp_path / "samples.tsv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _florabert(tmp_path, parts=("root", "root", "shoot system", "shoot system"), cultivar="B73"):
    df = pd.DataFrame(TPM.T, columns=GENES)
    df.insert(0, "organism_part", list(parts))
    df.insert(0, "Cultivar", cultivar)
    path = tmp_path / f"{cultivar}_TPM_expression_counts_aligned_against_own_genome.txt"
    df.to_csv(path, sep="\t", index=False)
    return path


def test_genes_x_samples_with_a_sheet_averages_replicates_per_tissue(tmp_path):
    spec = {"layout": "genes_x_samples", "samples": str(_sheet(tmp_path))}
    df, report = ex.load_expression({"table": _genes_x_samples(tmp_path)}, spec)
    assert list(df.columns) == ["gene_id", "root", "leaf"]
    assert np.allclose(df["root"], np.log1p(TPM[:, :2].mean(axis=1)))
    assert np.allclose(df["leaf"], np.log1p(TPM[:, 2:].mean(axis=1)))
    per = report["per_file"]["table"]
    assert per["samples_per_tissue"] == {"root": 2, "leaf": 2}
    assert per["replicates"] == {"root": ["1", "2"], "leaf": ["1", "2"]}


def test_auto_detects_each_layout(tmp_path):
    table = _genes_x_samples(tmp_path)
    assert ex.resolve_layout(table, {"layout": "auto"}) == "matrix"
    assert ex.resolve_layout(table, {"layout": "auto", "samples": "s.tsv"}) == "genes_x_samples"
    assert ex.resolve_layout(_florabert(tmp_path), {"layout": "auto"}) == "samples_x_genes"
    df, _ = ex.load_expression({"table": table}, {"layout": "auto",
                                                  "samples": str(_sheet(tmp_path))})
    assert list(df.columns) == ["gene_id", "root", "leaf"]


def test_florabert_samples_x_genes_averages_renames_and_drops_low_genes(tmp_path):
    df, report = ex.load_expression({"B73": _florabert(tmp_path)}, {"layout": "auto"})
    # "shoot system" -> "shoot"; AT1G01020 is under 1 TPM in every tissue: dropped
    assert list(df.columns) == ["gene_id", "root", "shoot"]
    assert df["gene_id"].tolist() == ["AT1G01010", "AT1G01030"]
    assert np.allclose(df["shoot"], np.log1p([15.0, 1.0]))
    assert report["low_expression"] == {"min_tpm": 1.0, "low_genes_dropped": 1,
                                        "low_examples": ["AT1G01020"]}
    kept, _ = ex.load_expression({"B73": _florabert(tmp_path)}, {"layout": "samples_x_genes",
                                                                 "min_tpm": 0})
    assert len(kept) == 3


def test_several_cultivars_in_one_table_need_a_line(tmp_path):
    a = pd.read_csv(_florabert(tmp_path), sep="\t")
    b = a.assign(Cultivar="Mo17")
    path = tmp_path / "both.tsv"
    pd.concat([a, b]).to_csv(path, sep="\t", index=False)
    with pytest.raises(ValueError, match=r"several lines in 'Cultivar' \(\['B73', 'Mo17'\]\)"):
        ex.load_expression({"table": path}, {"layout": "samples_x_genes"})
    df, _ = ex.load_expression({"Mo17": path}, {"layout": "samples_x_genes", "lines": ["Mo17"]})
    assert len(df) == 2


def test_a_table_of_no_layout_names_its_columns(tmp_path):
    path = tmp_path / "odd.tsv"
    path.write_text("geneName\tfoo\tbar\nx\t1\t2\n")
    with pytest.raises(ValueError, match=r"no known expression layout fits its columns "
                                         r"\('geneName', 'foo', 'bar'\)"):
        ex.load_expression({"table": path}, {"layout": "auto"})


@pytest.mark.parametrize("cell, message", [
    ("-2", r"line 3: negative value '-2' for gene 'AT1G01020' in column 'leaf_1'"),
    ("NaN", r"line 3: missing value \(NaN\) 'NaN' for gene 'AT1G01020' in column 'leaf_1'"),
    ("lots", r"line 3: non-numeric value 'lots' for gene 'AT1G01020' in column 'leaf_1'"),
])
def test_bad_values_are_named_by_gene_and_sample(tmp_path, cell, message):
    values = TPM.astype(object)
    values[1, 2] = cell
    spec = {"layout": "genes_x_samples", "samples": str(_sheet(tmp_path))}
    with pytest.raises(ValueError, match=message):
        ex.load_expression({"table": _genes_x_samples(tmp_path, values)}, spec)


def test_a_bad_value_in_a_samples_x_genes_table_names_the_sample(tmp_path):
    path = _florabert(tmp_path)
    text = path.read_text().splitlines()
    text[2] = text[2].replace("3.0", "x", 1)
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(ValueError, match=r"line 3 \(sample 'root_2', tissue 'root'\): "
                                         r"non-numeric value 'x' for gene 'AT1G01010'"):
        ex.load_expression({"table": path}, {"layout": "samples_x_genes"})


@pytest.mark.parametrize("rows, header, message", [
    (["root_1\troot\t1", "root_2\troot\t2", "leaf_1\tleaf\t1"], None,
     r"1 table column\(s\) are not in the sheet \(e.g. \['leaf_2'\]\)"),
    (["root_1\troot\t1", "root_2\troot\t2", "leaf_1\tleaf\t1", "leaf_2\tleaf\t2",
      "leaf_3\tleaf\t3"], None, r"1 sheet sample\(s\) are not table columns"),
    (["root_1\troot", "root_1\tleaf"], "sample\ttissue", "'root_1' is listed twice"),
    (["root_1\t1"], "sample\treplicate", r"needs a sample column and a 'tissue' column.*found "
                                         r"columns \['sample', 'replicate'\]"),
])
def test_a_sheet_that_disagrees_with_the_table_is_named(tmp_path, rows, header, message):
    sheet = _sheet(tmp_path, rows, header or "sample\ttissue\treplicate")
    with pytest.raises(ValueError, match=message):
        ex.load_expression({"table": _genes_x_samples(tmp_path)},
                           {"layout": "genes_x_samples", "samples": str(sheet)})


def test_csv_gz_and_an_unnamed_gene_column_are_read(tmp_path):
    df = pd.DataFrame(TPM[:, :2], columns=["root", "leaf"], index=GENES)
    path = tmp_path / "tpm.csv.gz"
    df.to_csv(path)  # R-style: the row names in an unnamed first column
    out, report = ex.load_expression({"table": path}, {"layout": "auto"})
    assert report["layout"] == "matrix" and out["gene_id"].tolist() == GENES


def test_one_table_layouts_refuse_several_lines():
    with pytest.raises(ValueError, match="reads one table"):
        ex.expression_spec({"layout": "genes_x_samples", "samples": "s.tsv",
                            "lines": ["a", "b"]})
    with pytest.raises(ValueError, match="needs 'samples'"):
        ex.expression_spec({"layout": "genes_x_samples"})


def test_tissue_names_map_and_tidy():
    assert layouts.tissue_name("shoot system") == "shoot"
    assert layouts.tissue_name("Leaf - tip", {"leaf - tip": "leaf_tip"}) == "leaf_tip"
    assert layouts.tissue_name("flower bud") == "flower_bud"


def test_a_line_placeholder_needs_lines():
    with pytest.raises(ValueError, match=r"holds \{line\}: name the lines"):
        ex.expression_spec({"layout": "samples_x_genes", "url": "/x/{line}_TPM.txt"})
