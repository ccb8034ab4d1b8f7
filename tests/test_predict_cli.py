"""``cornlib predict``: a FASTA of promoters or a genome + GFF3 in, one table out; bad input
named, and no half-written output."""

from pathlib import Path

import pandas as pd
import pytest
import torch

from cornlib import CornlibWarning, cli, models, training
from cornlib.data import fasta
from cornlib.models import predictor

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


def test_a_missing_model_is_named_with_a_did_you_mean(model_dir, tmp_path, capsys):
    src = _fa(tmp_path, ">a\nACGT\n")
    out = str(tmp_path / "o.tsv")
    assert cli.main(["predict", str(model_dir.parent / "cnm"), str(src), "-o", out]) == 2
    err = capsys.readouterr().err
    assert f"model folder {model_dir.parent / 'cnm'} does not exist" in err
    run = tmp_path / "run" / "finetune" / "pretrained"
    (run / "model").mkdir(parents=True)
    (run / "model" / "config.json").write_text("{}")
    assert cli.main(["predict", str(run), str(src), "-o", out]) == 2
    assert f"{run} holds no config.json: did you mean {run / 'model'}?" in \
        capsys.readouterr().err


def test_version(capsys):
    from cornlib import __version__

    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"cornlib {__version__}"


def test_odd_sequences_get_warnings(model_dir, tmp_path, capsys):
    src = _fa(tmp_path, ">short\nACG\n>alln\n" + "N" * 20 + "\n>long\n" + "ACGT" * 20 + "\n")
    out = tmp_path / "o.tsv"
    assert cli.main(["predict", str(model_dir), str(src), "-o", str(out), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "1 sequence(s) are shorter than 5 bp (e.g. short (3 bp))" in err
    assert "1 sequence(s) are more than 50% N (e.g. alln (100% N))" in err
    assert ("1 sequence(s) are longer than the model's window of 32 bp and are cut at their "
            "5' end (e.g. long (80 bp, 48 dropped))") in err
    assert "3 sequences from" in err


def test_drop_summary_words():
    from cornlib import predict

    report = {"kept": 5, "genes": 9, "candidates": 8,
              "dropped": {"covered_by_neighbours": 1, "too_short": 1, "too_many_n": 1,
                          "chrom_edge": 0}}
    assert predict.drop_summary(report) == (
        "5 promoters of 9 genes (8 candidates of the model's biotypes); skipped: 1 covered by "
        "neighbours, 1 too short, 1 too many N")


def test_genome_predictions_report_skipped_genes_with_reasons(model_dir, tmp_path, capsys):
    out = tmp_path / "genes.tsv"
    assert cli.main(["predict", str(model_dir), "--fasta", str(TOY / "toy.fa"), "--gff",
                     str(TOY / "toy.gff3"), "-o", str(out), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert pytest.importorskip("re").search(r"\d+ promoters of \d+ genes \(\d+ candidates of "
                                            r"the model's biotypes\); skipped: ", err)
    assert "'upstream': 10" in err and "records no promoter settings" not in err


def test_no_progress_silences_the_weight_loading_bar(model_dir, tmp_path, capfd):
    src = _fa(tmp_path, ">a\nACGTACGT\n")
    out = str(tmp_path / "o.tsv")
    assert cli.main(["predict", str(model_dir), str(src), "-o", out, "--no-progress"]) == 0
    assert "Loading weights" not in capfd.readouterr().err
    from transformers.utils import logging as hf_logging

    assert hf_logging.is_progress_bar_enabled()  # restored afterwards


def test_record_promoter_settings_round_trips_through_a_saved_folder(tmp_path):
    from cornlib import predict

    config = models.PromoterCNNConfig(seq_length=32, n_targets=1, channels=[4],
                                      kernel_sizes=[5], pool_sizes=[1], hidden_size=8)
    report = {"parameters": {"upstream": 500, "downstream": 50, "trim_neighbours": False,
                             "min_length": 80, "max_genes": 300, "biotypes": ("protein_coding",)}}
    kept = predict.record_promoter_settings(config, report)
    assert kept == {"upstream": 500, "downstream": 50, "trim_neighbours": False,
                    "min_length": 80, "biotypes": ["protein_coding"]}
    training.save_model(models.PromoterCNN(config), tmp_path / "m")
    loaded = predictor.load(tmp_path / "m")
    got = predict.promoter_settings(loaded)
    assert got["upstream"] == 500 and got["downstream"] == 50 and got["min_length"] == 80
    with pytest.raises(ValueError, match="hold none of"):
        predict.record_promoter_settings(config, {"seed": 0})
    bare = models.PromoterCNN(models.PromoterCNNConfig(seq_length=32, n_targets=1, channels=[4],
                                                       kernel_sizes=[5], pool_sizes=[1],
                                                       hidden_size=8))
    with pytest.warns(CornlibWarning, match="records no promoter settings"):
        predict.promoter_settings(bare, warn=True)


def test_an_old_folder_gets_its_run_settings_recorded(tmp_path):
    import json

    from cornlib import predict
    from cornlib.io import write_json

    config = models.PromoterCNNConfig(seq_length=32, n_targets=1, channels=[4],
                                      kernel_sizes=[5], pool_sizes=[1], hidden_size=8)
    training.save_model(models.PromoterCNN(config), tmp_path / "m")
    write_json(tmp_path / "promoters_report.json",
               {"parameters": {"upstream": 700, "min_length": 60, "max_genes": 10}})
    settings = predict.run_promoter_settings(tmp_path)
    assert settings == {"upstream": 700, "min_length": 60}
    assert predict.record_in_folder(tmp_path / "m", settings) == settings
    assert json.loads((tmp_path / "m" / "config.json").read_text())["promoter_settings"] == \
        settings
    assert predict.promoter_settings(predictor.load(tmp_path / "m"))["upstream"] == 700
    with pytest.raises(FileNotFoundError, match="chapter 02 writes it"):
        predict.run_promoter_settings(tmp_path / "nothing")
