"""cornlib.dataset: the join of promoters, split and targets, its report, and clear errors on bad input."""

import numpy as np
import pandas as pd
import pytest

from cornlib import CornlibWarning, dataset, io


def _tables(n=12):
    genes = [f"AT1G{i:05d}" if i % 2 else f"AARE_{i}" for i in range(n)]
    promoters = pd.DataFrame({"gene_id": genes,
                              "species": ["athaliana" if i % 2 else "aarenosa" for i in range(n)],
                              "chrom": "1", "start": np.arange(n) * 100, "end": np.arange(n) * 100 + 50,
                              "strand": "+", "sequence": ["ACGT" * 5] * n, "flags": ""})
    labels = (["train"] * 6 + ["valid"] * 3 + ["test"] * 3)[:n]
    folds = [i % 2 if s == "train" else -1 for i, s in enumerate(labels)]
    split = pd.DataFrame({"gene_id": genes, "species": promoters["species"], "cluster_id": np.arange(n),
                          "split": labels, "fold": folds})
    rng = np.random.default_rng(0)
    expression = pd.DataFrame({"gene_id": genes, "sim_a": rng.normal(size=n), "sim_b": rng.normal(size=n)})
    proxy = pd.DataFrame({"gene_id": [g for g in genes if g.startswith("AT")]})
    proxy["proxy"] = np.arange(len(proxy), dtype=float)
    return promoters, split, expression, proxy


def test_assemble_joins_by_gene_and_keeps_proxy_for_thaliana_only():
    promoters, split, expression, proxy = _tables()
    data = dataset.assemble(promoters, split, expression, proxy=proxy,
                            card={"kind": "simulated", "tissues": ["sim_b", "sim_a"]})
    assert data.tissues == ["sim_b", "sim_a"]  # the card fixes the order
    assert data.targets == ["sim_b", "sim_a", "proxy"]
    assert len(data.table) == 12 and data.table["gene_id"].is_monotonic_increasing
    assert data.table.loc[data.table["species"] == "aarenosa", "proxy"].isna().all()
    assert data.table.loc[data.table["species"] == "athaliana", "proxy"].notna().all()
    ids, seqs, Y = data.arrays("train", ["proxy"])
    assert all(i.startswith("AT") for i in ids) and Y.shape == (len(ids), 1)


def test_join_report_counts_unmatched_genes_and_warns():
    promoters, split, expression, _ = _tables()
    expression = expression.iloc[2:]  # two promoters lose their targets
    extra = pd.DataFrame({"gene_id": ["ORPHAN"], "sim_a": [0.0], "sim_b": [0.0]})
    with pytest.warns(CornlibWarning, match="2 more have no targets"):
        data = dataset.assemble(promoters, split, pd.concat([expression, extra]))
    row = data.report.set_index("join").loc["(promoters ⨝ split) ⨝ targets"]
    assert (row["left_only"], row["right_only"], row["matched"]) == (2, 1, 10)
    assert "ORPHAN" in row["examples"]
    assert len(data.table) == 10


def test_nan_target_is_an_error_naming_the_gene():
    promoters, split, expression, _ = _tables()
    expression.loc[4, "sim_b"] = np.nan
    with pytest.raises(ValueError, match="sim_b.*AARE_4"):
        dataset.assemble(promoters, split, expression)


def test_empty_split_is_an_error():
    promoters, split, expression, _ = _tables()
    split.loc[split["split"] == "valid", "split"] = "train"
    split.loc[split["split"] == "train", "fold"] = 0
    with pytest.raises(ValueError, match="split 'valid' has no genes"):
        dataset.assemble(promoters, split, expression)


def test_empty_fold_is_an_error():
    promoters, split, expression, _ = _tables()
    split.loc[split["fold"] == 1, "fold"] = 2  # folds 0 and 2: fold 1 is empty
    with pytest.raises(ValueError, match="fold 1 of 0..2 holds no training genes"):
        dataset.assemble(promoters, split, expression)


def test_duplicate_gene_is_an_error():
    promoters, split, expression, _ = _tables()
    with pytest.raises(ValueError, match="AARE_0.*more than once"):
        dataset.assemble(pd.concat([promoters, promoters.iloc[:1]]), split, expression)


def test_assemble_does_not_mutate_inputs():
    promoters, split, expression, proxy = _tables()
    before = [t.copy() for t in (promoters, split, expression, proxy)]
    dataset.assemble(promoters, split, expression, proxy=proxy)
    for a, b in zip(before, (promoters, split, expression, proxy)):
        pd.testing.assert_frame_equal(a, b)


def test_load_reads_a_run_dir_and_names_missing_files(tmp_path):
    promoters, split, expression, proxy = _tables()
    io.write_parquet(tmp_path / "promoters.parquet", promoters)
    io.write_parquet(tmp_path / "targets" / "expression.parquet", expression)
    with pytest.raises(FileNotFoundError, match="split.parquet.*03_split"):
        dataset.load(tmp_path)
    io.write_parquet(tmp_path / "split.parquet", split)
    io.write_parquet(tmp_path / "targets" / "proxy.parquet", proxy)
    io.write_json(tmp_path / "targets" / "card.json",
                  {"kind": "simulated", "tissues": ["sim_a", "sim_b"],
                   "noise_ceiling_r2": {"sim_a": 0.5, "sim_b": 0.4}})
    data = dataset.load(tmp_path)
    assert data.proxy == "proxy" and data.ceiling == {"sim_a": 0.5, "sim_b": 0.4}
    assert dataset.load(tmp_path, proxy=False).proxy is None


def test_load_records_how_the_promoters_were_cut(tmp_path):
    """A run's promoter settings (chapter 02's report) travel with the data into every model."""
    import json

    from cornlib import dataset as ds
    from cornlib.training import finetune

    genes = [f"g{i}" for i in range(6)]
    pd.DataFrame({"gene_id": genes, "species": "sp", "chrom": "c", "start": 0, "end": 4,
                  "strand": "+", "sequence": ["ACGT"] * 6}).to_parquet(tmp_path / "promoters.parquet")
    pd.DataFrame({"gene_id": genes, "cluster_id": range(6), "split": ["train", "train", "valid",
                  "valid", "test", "test"], "fold": 0}).to_parquet(tmp_path / "split.parquet")
    (tmp_path / "targets").mkdir()
    pd.DataFrame({"gene_id": genes, "t1": [1.0, 2, 3, 4, 5, 6]}).to_parquet(
        tmp_path / "targets" / "expression.parquet")
    data = ds.load(tmp_path)
    assert data.promoter_settings == {}
    (tmp_path / "promoters_report.json").write_text(json.dumps(
        {"parameters": {"upstream": 500, "min_length": 100, "species": "x"}}))
    data = ds.load(tmp_path)
    assert data.promoter_settings == {"upstream": 500, "min_length": 100}
    assert finetune.head_fields(data)["promoter_settings"] == {"upstream": 500, "min_length": 100}
