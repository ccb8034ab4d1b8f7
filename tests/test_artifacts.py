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
