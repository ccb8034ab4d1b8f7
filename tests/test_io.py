"""Atomic writes: a failed write leaves the old artifact whole and no temporary files behind."""

import os

import pytest

from cornlib import io


def test_atomic_dir_replaces_whole_directory_on_success(tmp_path):
    target = tmp_path / "tok"
    with io.atomic_dir(target) as tmp:
        (tmp / "a.json").write_text("old")
    with io.atomic_dir(target) as tmp:
        (tmp / "b.json").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["b.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tok"]


def test_atomic_dir_keeps_old_directory_on_error(tmp_path):
    target = tmp_path / "model"
    with io.atomic_dir(target) as tmp:
        (tmp / "weights").write_text("good")
    with pytest.raises(RuntimeError):
        with io.atomic_dir(target) as tmp:
            (tmp / "weights").write_text("half")
            raise RuntimeError("killed mid-save")
    assert (target / "weights").read_text() == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_atomic_outputs_follow_the_umask(tmp_path):
    mask = os.umask(0o022)
    try:
        f = io.write_text(tmp_path / "t.txt", "x")
        with io.atomic_dir(tmp_path / "d") as tmp:
            (tmp / "x").write_text("x")
    finally:
        os.umask(mask)
    assert f.stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755
