"""A lab's own data, end to end (issue 17's "Done when"), and the guide's made-up table.

The end-to-end test writes a TPM table and a sample sheet for the embedded TAIR10 chromosome
(:mod:`cornlib.data.example_table`), runs ``cornlib init`` on them, then ``cornlib run
--profile`` on the written profile with tiny sizes (:func:`profile_sizes.tiny_sizes`) through
every chapter, and ``cornlib predict`` with a model folder of that run: the prediction's columns
are the lab's tissues. The other tests check the table's stated signal and its broken copies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from profile_sizes import tiny_sizes

from cornlib import cli, init, run
from cornlib.data import embedded
from cornlib.data import example_table as et
from cornlib.paths import REPO_ROOT

MAX_GENES = 160    # the run's promoters (evenly spaced along chr1): enough for the tiny split


@pytest.fixture(scope="module")
def tair():
    return embedded.locate("athaliana")


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    return et.write_example(tmp_path_factory.mktemp("lab"), n_genes=60, seed=1)


def test_example_table_and_sheet(example):
    table = pd.read_csv(example.table, sep="\t", index_col=0)
    sheet = pd.read_csv(example.sheet, sep="\t")
    assert table.index.name == "gene_id" and table.shape == (60, 6)
    assert table.index.str.match(r"AT1G\d{5}$").all()
    assert (table.to_numpy() >= 0).all()
    assert sheet.columns.tolist() == ["sample", "tissue", "replicate"]
    assert sheet["sample"].tolist() == table.columns.tolist()
    assert sheet["tissue"].unique().tolist() == list(et.TISSUES)
    assert set(sheet["replicate"]) == {1, 2}
    assert list(example.signal.columns) == ["gene_id", "gc", "z_gc", "motif"]
    assert example.signal["gene_id"].tolist() == table.index.tolist()


def test_the_stated_signal_is_in_the_table(example):
    summary = et.signal_summary(example)
    assert summary.index.tolist() == list(et.TISSUES)
    r = summary["r with GC"]
    assert r["root"] > 0.8 and r["flower"] < -0.8 and abs(r["leaf"]) < 0.6
    assert example.signal["motif"].sum() >= 3
    effect = summary["G-box effect"]   # GC trend removed: only leaf's is the G-box's
    assert abs(effect["leaf"] - et.MOTIF_EFFECT) < 0.6
    assert effect.drop("leaf").abs().max() < 0.6


def test_log_tpm_is_seeded_and_checked():
    features = pd.DataFrame({"gene_id": ["a", "b"], "z_gc": [1.0, -1.0], "motif": [1, 0]})
    one, two = et.log_tpm(features, seed=3), et.log_tpm(features, seed=3)
    pd.testing.assert_frame_equal(one, two)
    assert one.columns.tolist() == [f"{t}_{r}" for t in et.TISSUES for r in (1, 2)]
    with pytest.raises(ValueError, match="two or more tissues"):
        et.log_tpm(features, tissues=["root"])
    with pytest.raises(ValueError, match="at least 10"):
        et.upstream_features(n_genes=3)


@pytest.mark.parametrize("mistake, message", [
    ("transcript_suffix", r"carry a transcript suffix .*\(60 of 60 would match\)"),
    ("negative_value", r"tpm.tsv line 5: negative value '-1.00' for gene 'AT1G\d+' in "
                       r"column 'leaf_1'"),
    ("sample_not_in_sheet", r"1 table column\(s\) are not in the sheet \(e.g. \['flower_2'\]\)"),
])
def test_broken_copies_get_their_errors(example, tair, tmp_path, mistake, message):
    table, sheet = et.broken_copy(example, mistake, tmp_path)
    species = init.species_list([str(tair.fasta)], [str(tair.gff)], ["athaliana"])
    with pytest.raises(ValueError, match=message):
        init.init(tmp_path / "x.yml", species, table, samples=sheet)
    assert not (tmp_path / "x.yml").exists()
    with pytest.raises(ValueError, match="one of transcript_suffix"):
        et.broken_copy(example, "typo", tmp_path)


def test_hide_paths_and_profile_excerpt(tmp_path):
    run_dir = tmp_path / "run"
    text = f"{run_dir}/own_species/tpm.tsv and {tmp_path}/genome.fa and {run_dir}"
    shown = et.hide_paths(text, {run_dir: "", tmp_path: "<data>/"})
    assert shown == "own_species/tpm.tsv and <data>/genome.fa and ."
    profile = "# head\na: 1   # one\nb:\n  c: 2\n- x\nd: [3]\ne: 4\n"
    assert et.profile_excerpt(profile, ["b", "d"]) == "b:\n  c: 2\n- x\nd: [3]"


def _cornlib(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cornlib", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=1500)


@pytest.mark.notebooks
@pytest.mark.slow
def test_own_species_init_run_predict(tair, tmp_path):
    """``cornlib init`` → ``cornlib run --profile`` (every chapter, tiny sizes) → ``cornlib
    predict``: the model folders predict the lab's tissues."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TQDM_DISABLE": "1",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    files = et.write_example(tmp_path / "lab", n_genes=None)   # every coding gene, as a lab
    profile = tmp_path / "my_lab.yml"
    code = cli.main(["init", str(profile), "--fasta", str(tair.fasta), "--gff", str(tair.gff),
                     "--expression", str(files.table), "--samples", str(files.sheet),
                     "--name", "athaliana"])
    assert code == 0 and profile.is_file()
    params = yaml.safe_load(profile.read_text())
    run_dir = tmp_path / "runs" / "my_lab"
    assert params["run_dir"] == str(run_dir)

    overrides = {**tiny_sizes(params), "max_genes": MAX_GENES, "device": "cpu"}
    chapters = [p.stem for p in run.notebooks()]
    argv = ["run", "--profile", str(profile), "--no-progress", "--timeout", "900",
            "--only", *chapters]
    for key, value in overrides.items():
        argv += ["-p", f"{key}={json.dumps(value)}"]
    done = _cornlib(*argv, env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    status = {k: v["status"] for k, v in manifest["notebooks"].items()}
    assert status == dict.fromkeys(chapters, "ok"), status

    card = json.loads((run_dir / "targets" / "card.json").read_text())
    assert card["kind"] == "measured" and card["tissues"] == list(et.TISSUES)
    from cornlib.training.finetune import best_run

    _, model, _ = best_run(run_dir / "finetune")
    out = tmp_path / "predictions.tsv"
    done = _cornlib("predict", str(model), str(run_dir / "promoters.fa"), "-o", str(out),
                    "--no-progress", env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    predictions = pd.read_csv(out, sep="\t", index_col=0)
    assert predictions.columns.tolist() == list(et.TISSUES)
    assert len(predictions) > 0 and np.isfinite(predictions.to_numpy()).all()
