"""``cornlib predict``: a FASTA of promoters or a genome + GFF3 in, one table out; bad input
named, and no half-written output."""

from pathlib import Path

import pandas as pd
import pytest
import torch

from cornlib import cli, models, training
from cornlib.data import fasta

TOY = Path(__file__).parent / "data" / "toy"
TISSUES = ["sim_t01", "sim_t02", "sim_t03"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "cnn"
    config = models.PromoterCNNConfig(
        seq_length=32, n_targets=3, channels=[4], kernel_sizes=[5], pool_sizes=[1],
        hidden_size=8, target_names=TISSUES, target_mean=[1.0, 2.0, 3.0],
        target_std=[1.0, 1.0, 1.0], target_transform="log1p",
        promoter_settings={"upstream": 10, "min_length": 5})
    torch.manual_seed(0)
    training.save_model(models.PromoterCNN(config), path)
    return path


def _fa(tmp_path, text, name="in.fa"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_predicts_every_record_of_a_fasta(model_dir, tmp_path, capsys):
    src = _fa(tmp_path, ">p1 some header\nACGTACGTTTGA\nCCAT\n>p2\nacgtnnACGT\n")
    out = tmp_path / "pred.tsv"
    assert cli.main(["predict", str(model_dir), str(src), "-o", str(out)]) == 0
    table = pd.read_csv(out, sep="\t", index_col=0)
    assert list(table.index) == ["p1", "p2"] and list(table.columns) == TISSUES
    assert "2 sequences" in capsys.readouterr().err


def test_predicts_every_gene_of_a_genome(model_dir, tmp_path):
    out = tmp_path / "genes.tsv"
    code = cli.main(["predict", str(model_dir), "--fasta", str(TOY / "toy.fa"), "--gff",
                     str(TOY / "toy.gff3"), "-o", str(out), "--no-progress"])
    assert code == 0
    table = pd.read_csv(out, sep="\t", index_col=0)
    assert table.index.name == "gene_id" and "TOY_A" in table.index
    assert list(table.columns) == TISSUES


@pytest.mark.parametrize("text, message", [
    ("", "holds no FASTA record"),
    (">a\nACGT\n>a\nACGT\n", "used twice"),
    (">a\nACGU\n", "'a' has 'U' at 0-based position 3"),
    ("ACGT\n>a\nACGT\n", "before the first '>'"),
    (">a\n>b\nACGT\n", "'a' .* has no sequence"),
])
def test_bad_fasta_is_named_and_nothing_is_written(model_dir, tmp_path, capsys, text, message):
    src = _fa(tmp_path, text)
    out = tmp_path / "pred.tsv"
    assert cli.main(["predict", str(model_dir), str(src), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "error" in err and pytest.importorskip("re").search(message, err)
    assert not out.exists()


def test_a_masked_lm_folder_is_refused(tok, tmp_path, capsys):
    mlm = models.new_mlm(models.config_for_tokenizer(tok, max_length=32, layers=1, hidden=16,
                                                     heads=2, intermediate=32))
    mlm.save_pretrained(tmp_path / "mlm")
    src = _fa(tmp_path, ">a\nACGT\n")
    assert cli.main(["predict", str(tmp_path / "mlm"), str(src), "-o",
                     str(tmp_path / "o.tsv")]) == 2
    assert "not an expression model" in capsys.readouterr().err


def test_gzip_fasta_and_truncation(tmp_path):
    import gzip

    p = tmp_path / "x.fa.gz"
    with gzip.open(p, "wt") as fh:
        fh.write(">a\nACGT\n>b\nGG\n")
    assert fasta.read(p) == (["a", "b"], ["ACGT", "GG"])
    p.write_bytes(p.read_bytes()[:-6])
    with pytest.raises(ValueError, match="truncated"):
        fasta.read(p)
