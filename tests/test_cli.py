"""The command line: ``cornlib promoters`` (outputs, summary, errors) and ``cornlib run``."""

from pathlib import Path

import pandas as pd
import pytest

from cornlib import cli, run

TOY = Path(__file__).parent / "data" / "toy"


def promoters(tmp_path, *extra):
    return cli.main(["promoters", "--fasta", str(TOY / "toy.fa"), "--gff", str(TOY / "toy.gff3"),
                     "--upstream", "10", "--min-length", "1", "--cache-dir", str(tmp_path / "cache"),
                     *extra])


def test_promoters_writes_fasta_and_summarises_on_stderr(tmp_path, capsys):
    out = tmp_path / "p.fa"
    assert promoters(tmp_path, "-o", str(out)) == 0
    headers = [ln for ln in out.read_text().splitlines() if ln.startswith(">")]
    assert [h.split()[0] for h in headers] == [">TOY_A", ">TOY_B", ">TOY_C", ">TOY_NEST", ">TOY_IUPAC"]
    err = capsys.readouterr().err
    assert "11 genes, 10 candidates -> 5 promoters" in err
    assert "2 chrom edge" in err and "1 covered by neighbours" in err and "4 trimmed" in err


def test_promoters_writes_parquet_with_options(tmp_path):
    out = tmp_path / "p.parquet"
    assert promoters(tmp_path, "-o", str(out), "--no-trim-neighbours", "--edge-policy", "flag",
                     "--biotypes", "all", "--species", "toy") == 0
    table = pd.read_parquet(out)
    assert set(table["species"]) == {"toy"} and "TOY_TRNA" in set(table["gene_id"])
    a = table.set_index("gene_id").loc["TOY_A"]
    assert (a["start"], a["end"], a["sequence"]) == (20, 30, "TTTTTCCCCC")


@pytest.mark.parametrize("args, message", [
    (["--gff", "missing.gff3"], "missing.gff3 does not exist"),
    (["--upstream", "-5"], "upstream must be a non-negative integer"),
    (["--edge-policy", "flag", "--max-n-fraction", "3"], "max_n_fraction must lie in"),
])
def test_bad_input_exits_non_zero_and_writes_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "p.fa"
    assert promoters(tmp_path, "-o", str(out), *args) != 0
    assert message in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".p.fa*"))


def test_malformed_gff_line_is_reported_with_its_number(tmp_path, capsys):
    lines = (TOY / "toy.gff3").read_text().splitlines()
    lines[6] = lines[6].replace("\t25\t28\t", "\t28\t25\t")
    bad = tmp_path / "bad.gff3"
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "p.parquet"
    assert promoters(tmp_path, "-o", str(out), "--gff", str(bad)) == 2
    assert "bad.gff3 line 7: inverted coordinates" in capsys.readouterr().err
    assert not out.exists()


def test_unknown_output_suffix_is_refused(tmp_path, capsys):
    assert promoters(tmp_path, "-o", str(tmp_path / "p.txt")) == 2
    assert "cannot tell the format" in capsys.readouterr().err


def test_run_subcommand_is_kept(monkeypatch, capsys):
    seen = {}
    monkeypatch.setattr(run, "run_args", lambda args: seen.setdefault("args", args) and 0)
    assert cli.main(["run", "--profile", "tiny", "--only", "02", "--book", "somewhere",
                     "--rerun-stale"]) == 0
    args = seen["args"]
    assert (args.profile, args.only, args.book) == ("tiny", ["02"], "somewhere")
    assert args.rerun_stale
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--book DIR" in out and "CORNLIB_BOOK" in out and "--rerun-stale" in out
    assert "Exit status" in out


def test_run_outside_any_book_says_how_to_point_at_one(tmp_path, monkeypatch, capsys):
    from cornlib import paths

    monkeypatch.delenv(paths.BOOK_ENV, raising=False)
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path / "site-packages")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "--profile", "tiny"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cornlib.run: error: no book found") and "--book DIR" in err
