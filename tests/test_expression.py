"""Expression loaders on the NAM table fixtures: log(TPM+1) matrix, bad input, and the promoter join."""

from __future__ import annotations

import functools
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cornlib import CornlibWarning, profiles
from cornlib.data import expression as ex

FIXTURES = Path(__file__).parent / "data" / "maize"
B73 = FIXTURES / "B73_full-tpm.mini.tsv"
B97 = FIXTURES / "B97_full-tpm.mini.tsv"
SPEC = {"url": "https://example.org/NAM/{line}_full-tpm.tsv"}
TEN = ["root", "shoot", "leaf_base", "leaf_middle", "leaf_tip", "ear", "tassel", "anther",
       "endosperm", "embryo"]


def _raw(path: Path = B73) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t")


def _edited(tmp_path: Path, old: str, new: str, count: int = 1) -> Path:
    text = B73.read_text()
    assert old in text
    out = tmp_path / "B73_full-tpm.tsv"
    out.write_text(text.replace(old, new, count))
    return out


def test_nam_table_becomes_log1p_genes_by_tissues():
    df, report = ex.load_expression({"B73": B73}, SPEC)
    raw = _raw().set_index("Geneid")
    middle = [c for c in raw.columns if "_V11_middle_" in c]
    expected = np.log1p(raw.loc["Zm00001eb000040_T001", middle].mean())
    assert list(df.columns) == ["gene_id", *TEN]
    assert df.set_index("gene_id").loc["Zm00001eb000040", "leaf_middle"] == pytest.approx(expected)
    assert report["per_line"]["B73"]["libraries_per_tissue"]["leaf_middle"] == len(middle) == 3
    assert "chr3:10001-12000" in report["per_line"]["B73"]["rows_not_genes_examples"]
    assert len(df) == len(raw) - 1 and (df.drop(columns="gene_id") >= 0).all().all()


def test_all_zero_genes_kept_by_default_and_dropped_on_request():
    kept, report = ex.load_expression({"B73": B73}, SPEC)
    dropped, report2 = ex.load_expression({"B73": B73}, {**SPEC, "drop_all_zero": True})
    assert report["log"]["all_zero_genes"] == 1 and "Zm00001eb000030" in set(kept["gene_id"])
    assert report2["log"]["all_zero_dropped"] and "Zm00001eb000030" not in set(dropped["gene_id"])
    assert len(dropped) == len(kept) - 1


def test_tissue_subset_keeps_its_order_and_reports_the_rest():
    df, report = ex.load_expression({"B73": B73}, {**SPEC, "tissues": ["root", "anther"]})
    assert list(df.columns) == ["gene_id", "root", "anther"]
    assert set(report["per_line"]["B73"]["tissues_not_used"]) == set(TEN) - {"root", "anther"}


def test_requested_tissue_without_library_raises():
    with pytest.raises(ValueError, match=r"no library for tissue\(s\) \['silk'\]"):
        ex.load_expression({"B73": B73}, {**SPEC, "tissues": ["root", "silk"]})


def test_median_of_replicates_on_request():
    df, _ = ex.load_expression({"B73": B73}, {**SPEC, "replicate_agg": "median"})
    raw = _raw().set_index("Geneid")
    anther = [c for c in raw.columns if "_anther_" in c]
    got = df.set_index("gene_id").loc["Zm00001eb000010", "anther"]
    assert got == pytest.approx(np.log1p(raw.loc["Zm00001eb000010_T001", anther].median()))


def test_several_lines_are_combined_by_pan_gene_median():
    spec = {**SPEC, "lines": ["B73", "B97"], "tissues": ["root"]}
    df, report = ex.load_expression({"B73": B73, "B97": B97}, spec)
    b73, b97 = _raw(B73).set_index("PanGeneID"), _raw(B97).set_index("PanGeneID")
    root = lambda t, pan: t.loc[pan, [c for c in t.columns if "_root_" in c]].mean()  # noqa: E731
    expected = np.log1p(np.median([root(b73, "pan_gene_2"), root(b97, "pan_gene_2")]))
    assert df.set_index("gene_id").loc["Zm00001eb000020", "root"] == pytest.approx(expected)
    assert report["combine"]["pan_genes_without_reference_gene_examples"] == ["pan_gene_8"]
    assert report["combine"]["lines_per_pan_gene"]["max"] == 2


@pytest.mark.parametrize("old, new, message", [
    ("\t4.313333\t", "\tNA\t", r"line 3: missing value \(NaN\) 'NA' for gene 'Zm00001eb000020_T001' "
                               r"in column 'B73_8DAS_root_MN01011'"),
    ("\t4.313333\t", "\t-4.3\t", "line 3: negative value '-4.3'"),
    ("\t4.313333\t", "\tlow\t", "line 3: non-numeric value 'low'"),
    ("\t4.313333\t", "\tinf\t", "line 3: infinite value 'inf'"),
    ("B73_V11_middle_MN01041", "B73_V11_husk_MN01041", "unknown tissue 'husk' in column"),
    ("\tB73_8DAS_root_MN01011", "\tnotes", "column 'notes' is neither"),
    ("Geneid", "gene", "no 'Geneid' column"),
])
def test_bad_table_raises_naming_file_gene_and_column(tmp_path, old, new, message):
    path = _edited(tmp_path, old, new)
    with pytest.raises(ValueError, match=message) as err:
        ex.load_expression({"B73": path}, SPEC)
    assert str(path) in str(err.value)


def test_unknown_tissue_token_can_be_mapped():
    df, _ = ex.load_expression({"B73": B73}, {**SPEC, "tissue_names": {"tip": "blade_tip"}})
    assert "blade_tip" in df.columns and "leaf_tip" not in df.columns


def test_extra_columns_and_other_library_names_are_configurable(tmp_path):
    header, rest = B73.read_text().split("\n", 1)
    header = re.sub(r"B73_[^_]+_", "", header) + "\tnotes"  # root_MN01011, ..., then a text column
    path = tmp_path / "B73_full-tpm.tsv"
    path.write_text(header + "\n" + "".join(f"{row}\tok\n" for row in rest.splitlines()))
    spec = {**SPEC, "ignore_columns": ["notes"], "tissues": ["root", "anther"],
            "library_pattern": r"(?P<tissue>[a-z]+)_(?P<library>MN\w+)"}
    df, report = ex.load_expression({"B73": path}, spec)
    assert report["per_line"]["B73"]["libraries"] == 22 and list(df.columns) == ["gene_id", "root", "anther"]
    with pytest.raises(ValueError, match="ignore_columns"):
        ex.load_expression({"B73": path}, {**spec, "ignore_columns": []})


def _with_duplicate(tmp_path: Path, same: bool) -> Path:
    lines = B73.read_text().splitlines()
    copy = lines[1].replace("pan_gene_1", "pan_gene_9")
    if not same:
        copy = copy.replace("\t83.911169\t", "\t1.0\t")
    path = tmp_path / "B73_full-tpm.tsv"
    path.write_text("\n".join([*lines, copy]) + "\n")
    return path


def test_conflicting_duplicate_genes_raise_unless_a_policy_is_set(tmp_path):
    path = _with_duplicate(tmp_path, same=False)
    with pytest.raises(ValueError, match="gene 'Zm00001eb000010' has 2 rows with different values"):
        ex.load_expression({"B73": path}, SPEC)
    with pytest.warns(CornlibWarning, match="combined with 'mean'"):
        df, report = ex.load_expression({"B73": path}, {**SPEC, "duplicates": "mean"})
    assert report["combine"]["conflicting_examples"] == ["Zm00001eb000010"]
    assert df["gene_id"].is_unique


def test_identical_duplicate_rows_collapse_and_are_counted(tmp_path):
    df, report = ex.load_expression({"B73": _with_duplicate(tmp_path, same=True)}, SPEC)
    assert report["combine"]["identical_duplicates_collapsed"] == 1 and df["gene_id"].is_unique


def test_validate_targets_checks_and_returns_a_clean_copy():
    raw = pd.DataFrame({"gene_id": ["g1", "g2"], "root": ["1.5", "0"], "leaf": [2, 3]})
    out = ex.validate_targets(raw, source="t.parquet", tissues=["root", "leaf"])
    assert out["gene_id"].tolist() == ["g1", "g2"] and out["root"].tolist() == [1.5, 0.0]
    assert (out[["root", "leaf"]].dtypes == "float64").all()
    assert raw["root"].tolist() == ["1.5", "0"]  # caller's frame untouched


@pytest.mark.parametrize("frame, kwargs, message", [
    ({"gene_id": ["g1", "g2"], "root": [1.0, np.nan]}, {}, r"row 1: missing value .* 'g2' .* 'root'"),
    ({"gene_id": ["g1", "g2"], "root": [1.0, -0.5]}, {}, r"row 1: negative value"),
    ({"gene_id": ["g1", "g1"], "root": [1.0, 2.0]}, {}, r"appear more than once, e.g. \['g1'\]"),
    ({"gene_id": ["g1", ""], "root": [1.0, 2.0]}, {}, "empty gene_id"),
    ({"gene_id": ["g1"], "root": [1.0], "husk": [1.0]}, {"tissues": ["root"]},
     r"unknown tissue column\(s\) \['husk'\]"),
    ({"gene_id": ["g1"], "root": [1.0]}, {"tissues": ["root", "ear"]}, r"\['ear'\] are missing"),
    ({"gene": ["g1"], "root": [1.0]}, {}, "no 'gene_id' column"),
])
def test_validate_targets_rejects_bad_frames(frame, kwargs, message):
    with pytest.raises(ValueError, match=message) as err:
        ex.validate_targets(pd.DataFrame(frame), source="targets/expression.parquet", **kwargs)
    assert "targets/expression.parquet" in str(err.value)


def test_validate_targets_allows_negative_simulated_values():
    out = ex.validate_targets(pd.DataFrame({"gene_id": ["g"], "sim_tissue_00": [-1.0]}),
                              allow_negative=True)
    assert out.loc[0, "sim_tissue_00"] == -1.0


def _promoters() -> pd.DataFrame:
    ids = ["gene:Zm00001eb000010", "Zm00001eb000020", "Zm00001eb000030", "Zm00001eb000040",
           "Zm00001eb000050", "Zm00001eb000060", "SORBI_3001G000100"]
    return pd.DataFrame({"gene_id": ids, "species": ["zmays"] * 6 + ["sbicolor"],
                         "sequence": ["ACGT"] * len(ids)})


def test_join_promoters_reports_unmatched_both_ways():
    targets, _ = ex.load_expression({"B73": B73}, SPEC)
    with pytest.warns(CornlibWarning, match="5 of 6 expression genes"):
        joined, report = ex.join_promoters(_promoters(), targets)
    assert report["matched"] == len(joined) == 5
    assert report["promoters_without_expression"]["by_species"] == {"zmays": 1, "sbicolor": 1}
    assert report["expression_without_promoter"]["examples"] == ["Zm00001eb000070"]
    assert joined.loc[0, "gene_id"] == "gene:Zm00001eb000010" and "leaf_middle" in joined.columns


def test_join_promoters_without_any_match_names_the_id_schemes():
    targets, _ = ex.load_expression({"B73": B73}, SPEC)
    v4 = pd.DataFrame({"gene_id": ["Zm00001d027230", "Zm00001d027231"]})
    with pytest.raises(ValueError, match="RefGen_v4"):
        ex.join_promoters(v4, targets)


@pytest.mark.parametrize("raw, expected", [
    ("gene:Zm00001eb000010", "Zm00001eb000010"), ("Zm00001eb000010_T001", "Zm00001eb000010"),
    ("Zm00018ab000010_P002", "Zm00018ab000010"), ("transcript:AT1G01010.1", "AT1G01010.1"),
    (" Os01g0100100 ", "Os01g0100100"),
])
def test_normalize_gene_id(raw, expected):
    assert ex.normalize_gene_id(raw) == expected


def test_matrix_layout_reads_a_ready_table(tmp_path):
    path = tmp_path / "tpm.tsv"
    path.write_text("gene_id\troot\tear\ng1\t0\t3.5\ng2\t1\t0\n")
    df, _ = ex.load_expression({"B73": path}, {"layout": "matrix", "url": "https://x/t.tsv",
                                               "tissues": ["root", "ear"]})
    assert df.loc[0, "ear"] == pytest.approx(np.log1p(3.5))
    with pytest.raises(ValueError, match=r"line 3: non-numeric value 'x'"):
        path.write_text("gene_id\troot\tear\ng1\t0\t3.5\ng2\tx\t0\n")
        ex.load_expression({"B73": path}, {"layout": "matrix", "url": "https://x/t.tsv"})


@pytest.mark.parametrize("spec, message", [
    ({**SPEC, "tissue": ["root"]}, "unknown key"),
    ({**SPEC, "replicate_agg": "sum"}, "replicate_agg"),
    ({**SPEC, "lines": ["B73"], "reference_line": "B97"}, "reference_line"),
    ({**SPEC, "layout": "matrix", "lines": ["B73", "B97"]}, "single entry"),
    ({**SPEC, "tissues": ["root", "root"]}, "distinct"),
])
def test_expression_spec_rejects_bad_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        ex.expression_spec(spec)


def test_full_profile_names_valid_real_sources():
    from cornlib.data import download

    full = profiles.load("full")
    spec = ex.expression_spec(full["expression"])
    assert "cyverse.org" in spec["url"] and spec["tissues"]
    names = [download.genome_spec(s)["name"] for s in full["species"]]
    assert "zmays" in names and len(set(names)) == len(names)


@pytest.fixture
def file_server():
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(FIXTURES))
    handler.log_message = lambda *a: None
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_load_targets_downloads_and_loads(file_server, tmp_path):
    spec = {"url": file_server + "/{line}_full-tpm.mini.tsv", "tissues": ["root", "leaf_tip"]}
    df = ex.load_targets(spec, tmp_path, progress=False)
    direct, _ = ex.load_expression({"B73": B73}, spec)
    pd.testing.assert_frame_equal(df, direct)
    assert df.attrs["report"]["files"]["B73"].startswith(str(tmp_path))
