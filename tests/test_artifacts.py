"""cornlib.artifacts: one registry names the chapter that writes each run-directory file."""

import pytest

from cornlib import artifacts, dataset
from cornlib.paths import REPO_ROOT


def test_every_registered_artifact_names_an_existing_notebook():
    for name in artifacts.ARTIFACTS:
        stem = artifacts.producer(name)
        assert (REPO_ROOT / "notebooks" / f"{stem}.md").is_file(), (name, stem)


def test_missing_inputs_name_the_producing_chapter(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"promoters.parquet.*02_promoters.*--only 02"):
        dataset.load(tmp_path)
    with pytest.raises(KeyError, match="not a registered"):
        artifacts.producer("nothing.parquet")


def test_patterns_and_folders_name_their_chapter(tmp_path):
    assert artifacts.producer("evaluate/results.parquet") == "08_evaluate"
    assert artifacts.producer("evaluate/projector") == "08_evaluate"
    assert artifacts.producer("variants/cnn.tsv") == "10_variants"
    assert artifacts.producer("baselines/predictions.parquet") == "04_baselines"  # in a folder
    with pytest.raises(KeyError, match="not a registered"):
        artifacts.producer("variants/deeper/cnn.tsv")  # * stays within one folder
    with pytest.raises(FileNotFoundError, match=r"evaluate/results.parquet.*08_evaluate"):
        artifacts.path(tmp_path, "evaluate/results.parquet")
