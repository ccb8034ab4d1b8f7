"""TF-MoDISco patterns, Tomtom matches and driver recovery (cornlib.interpret.motifs).

The ``slow`` tests run modiscolite and memelite, whose numba kernels compile on first use
(~45 s and ~95 s on one thread) and load from numba's on-disk cache afterwards (seconds).
"""

import numpy as np
import pandas as pd
import pytest

from cornlib.interpret import motifs as im
from cornlib.motifs import load_plant_motifs
from cornlib.sequence.alphabet import one_hot

DOF, MYB = "MA1270.2", "MA2030.2"  # DOF3.2 (16 bp) and MYB96 (11 bp), drivers of the simulation


def _planted(ids=(DOF, MYB), n=60, length=500, noise=0.1, seed=0):
    """Random sequences with sites drawn from ``ids`` (alternating, one per half, random strand);
    hypothetical attributions are the motif's log-odds on its sites plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    motifs = {m.matrix_id: m for m in load_plant_motifs()}
    codes = rng.integers(0, 4, size=(n, length))
    attr = rng.normal(0, noise, size=(n, length, 4)).astype(np.float32)
    sites = []
    for i in range(n):
        for k, mid in enumerate(ids):
            m = motifs[mid]
            half = length // len(ids)
            start = int(rng.integers(k * half + 10, (k + 1) * half - m.length - 10))
            probs, lo = m.probabilities(), m.log_odds()
            strand = "+" if rng.random() < 0.5 else "-"
            if strand == "-":
                probs, lo = probs[::-1, ::-1], lo[::-1, ::-1]
            codes[i, start:start + m.length] = [rng.choice(4, p=p / p.sum()) for p in probs]
            attr[i, start:start + m.length] += 0.25 * lo
            sites.append((i, start, start + m.length, strand, mid))
    return one_hot(codes), attr, pd.DataFrame(sites, columns=["sequence", "start", "end", "strand", "motif"])


@pytest.fixture(scope="module")
def found():
    x, a, sites = _planted()
    patterns = im.discover(x, a)
    return patterns, im.match(patterns), sites


@pytest.mark.slow
def test_discover_finds_the_planted_sites(found):
    patterns, _, sites = found
    assert [p.sign for p in patterns] == ["positive", "positive"]
    for p in patterns:
        assert p.cwm.shape == p.ppm.shape == (p.length, 4)
        assert np.allclose(p.ppm.sum(axis=1), 1) and p.cwm.sum() > 0
        assert len(p.seqlets) == p.n_seqlets >= 40
        # Each seqlet lies on one planted site, all of one motif, of about its width.
        hit = p.seqlets.merge(sites, on="sequence", suffixes=("", "_site"))
        hit = hit[(hit["start"] < hit["end_site"]) & (hit["start_site"] < hit["end"])]
        assert hit["sequence"].nunique() >= 0.9 * len(p.seqlets)
        assert hit["motif"].nunique() == 1
        width = (sites.loc[sites["motif"] == hit["motif"].iloc[0], "end"]
                 - sites.loc[sites["motif"] == hit["motif"].iloc[0], "start"]).iloc[0]
        assert abs(p.length - width) <= 4
        # Coordinates and strands: the core starts on the site, in one orientation relative to it.
        assert ((hit["start"] - hit["start_site"]).abs() <= 2).mean() >= 0.9
        assert (hit["strand"] == hit["strand_site"]).mean() in (0.0, 1.0)
    table = im.seqlet_table(patterns)
    assert list(table.columns) == ["pattern", "sequence", "start", "end", "strand"]
    assert len(table) == sum(p.n_seqlets for p in patterns)


@pytest.mark.slow
def test_match_puts_the_planted_motif_first(found):
    patterns, matches, _ = found
    assert list(matches.columns) == im.MATCH_COLUMNS
    best = matches[matches["rank"] == 1].set_index("pattern")
    assert sorted(best["matrix_id"]) == sorted([DOF, MYB])
    assert (best["q_value"] < 1e-6).all()
    assert (matches.groupby("pattern")["p_value"].apply(lambda s: s.is_monotonic_increasing)).all()
    table = im.compare(matches, [DOF, MYB, "MA1055.3"])  # SPL1 was not planted
    assert dict(zip(table["driver"], table["status"])) == {DOF: "found", MYB: "found", "MA1055.3": "missed"}


@pytest.mark.slow
def test_discover_returns_an_empty_list_without_signal():
    x, a, _ = _planted(n=20, length=300)
    assert im.discover(x, np.zeros_like(a)) == []  # no contribution at all
    flat = np.zeros_like(a)
    flat[0] = a[0]  # two sites in one sequence: too few seqlets to cluster
    assert im.discover(x, flat) == []
    assert im.match([]).columns.tolist() == im.MATCH_COLUMNS
    assert im.seqlet_table([]).empty


def test_discover_checks_shapes():
    with pytest.raises(ValueError, match=r"\(N, L, 4\)"):
        im.discover(np.zeros((2, 10, 4)), np.zeros((2, 10, 5)))
    with pytest.raises(ValueError, match="NaN"):
        im.discover(np.zeros((2, 10, 4)), np.full((2, 10, 4), np.nan))


def _row(pattern, rank, matrix_id, family, q):
    return dict(pattern=pattern, rank=rank, matrix_id=matrix_id, name=matrix_id.lower(), family=family,
                p_value=q / 100, q_value=q, e_value=q, offset=0, orientation="+")


def test_compare_labels_found_family_missed_and_invented():
    matches = pd.DataFrame([
        _row("pos_0", 1, "DRV1", "DOF", 1e-8),    # exact hit of driver 1
        _row("pos_0", 2, "SIB1", "DOF", 1e-6),
        _row("pos_1", 1, "SIB2", "myb", 1e-4),    # driver 2 only through its family (case-insensitive)
        _row("pos_1", 2, "DRV2", "MYB", 0.2),     # the exact match is not significant
        _row("pos_2", 1, "OTHER", "WRKY", 1e-5),  # significant, but not a driver: invented
        _row("neg_0", 1, "DRV3", "NAC", 0.5),     # nothing significant: invented; driver 3 missed
    ], columns=im.MATCH_COLUMNS)
    families = {"DRV1": "DOF", "DRV2": "MYB/SANT", "DRV3": "NAC"}
    table = im.compare(matches, ["DRV1", "DRV2", "DRV3"], families=families, names={})
    assert list(table.columns) == im.COMPARE_COLUMNS
    got = table.set_index(table["driver"].fillna(table["pattern"]))
    cols = ["status", "pattern", "matrix_id"]
    assert got.loc["DRV1", cols].tolist() == ["found", "pos_0", "DRV1"]
    assert got.loc["DRV2", cols].tolist() == ["found (same family)", "pos_1", "SIB2"]
    assert got.loc["DRV3", "status"] == "missed" and pd.isna(got.loc["DRV3", "pattern"])
    assert got.loc["pos_2", ["status", "matrix_id"]].tolist() == ["invented", "OTHER"]
    assert got.loc["neg_0", "status"] == "invented" and pd.isna(got.loc["neg_0", "matrix_id"])
    assert table["status"].tolist()[:3] == ["found", "found (same family)", "missed"]
    # A looser threshold turns driver 2's exact match on.
    loose = im.compare(matches, ["DRV2"], q=0.3, families=families, names={})
    assert loose.loc[0, ["status", "matrix_id"]].tolist() == ["found", "DRV2"]
    # Names and families default to JASPAR's.
    real = im.compare(matches.assign(matrix_id="MA1274.1"), [DOF])
    assert real.loc[0, ["status", "driver_name"]].tolist() == ["found (same family)", "DOF3.2"]


def test_pattern_logos_aligns_the_best_match():
    import matplotlib

    matplotlib.use("Agg")
    from cornlib.plots.logos import pattern_logos

    motifs = {m.matrix_id: m for m in load_plant_motifs()}
    core = motifs[DOF].probabilities()[4:12]
    seqlets = pd.DataFrame(columns=["sequence", "start", "end", "strand"])
    p = im.Pattern("pos_0", "positive", 30, core * 0.5, core, seqlets)
    matches = pd.DataFrame([_row("pos_0", 1, DOF, "DOF", 1e-9) | dict(offset=4)], columns=im.MATCH_COLUMNS)
    fig, axes = pattern_logos([p], matches, list(motifs.values()), kind="ppm")
    assert axes.shape == (1, 2) and DOF in axes[0, 1].get_title()
    assert axes[0, 0].get_xlim() == axes[0, 1].get_xlim() == (-4.5, 11.5)  # motif columns -4..11
    fig, ax = pattern_logos([], matches)
    assert "no patterns" in ax.texts[0].get_text()


def test_floor_empty_positions_keeps_contributions():
    x, a, _ = _planted(n=4, length=100)
    assert im._floor_empty_positions(a, x) is a  # nothing empty: untouched
    x[0, 80:] = 0    # padding past the end
    a[0, 80:] = 0
    a[1, 10:50] = 0  # a dead-gradient run inside the sequence
    out = im._floor_empty_positions(a, x)
    assert np.any(out, axis=2).all()  # no empty position left
    assert np.array_equal(out * x, a * x)  # actual contributions unchanged
    assert np.array_equal(out[2:], a[2:]) and np.array_equal(out[1, 50:], a[1, 50:])
    assert 0 < np.abs(out[0, 80:]).max() < 1e-6 * np.abs(a).max()
    assert np.array_equal(out, im._floor_empty_positions(a, x))  # seeded


@pytest.mark.slow
def test_discover_survives_windows_without_attributions():
    """Exact-zero runs in the attributions (as a trained CNN's gradients have) let TF-MoDISco move
    seqlets into windows with no attribution at all, whose continuous Jaccard is 0/0: without
    :func:`_floor_empty_positions` this raised ``Cannot accept NaN weights`` (Leiden) here, and
    ``Input contains NaN`` (AUROC of ``SimilarPatternsCollapser``) on the ``small`` run's models."""
    from modiscolite import affinitymat, util
    from modiscolite.core import Seqlet, TrackSet

    x, a, _ = _planted(seed=1)
    rng = np.random.default_rng(101)
    for i in range(len(a)):
        for _ in range(3):
            s = int(rng.integers(0, 480))
            a[i, s:s + int(rng.integers(40, 120))] = 0
    # The failing step in miniature: a seqlet inside a run is all zero, its Jaccard with itself NaN.
    empty = next((i, s) for i in range(len(a)) for s in range(470) if not a[i, s:s + 30].any())
    for hyp, finite in ((a, False), (im._floor_empty_positions(a, x), True)):
        tracks = TrackSet(x, hyp * x, hyp)
        seqlets = tracks.create_seqlets([Seqlet(empty[0], empty[1], empty[1] + 30, False),
                                         Seqlet(0, 0, 30, False)])
        data = util.get_2d_data_from_patterns(seqlets)[0].reshape(2, -1)[:, :, None]
        sims = affinitymat.jaccard(data, data)[:, :, 0]
        assert np.isfinite(sims).all() == finite
    patterns = im.discover(x, a)
    assert len(patterns) >= 2 and patterns[0].sign == "positive"
    for p in patterns:
        assert np.isfinite(p.cwm).all() and np.allclose(p.ppm.sum(axis=1), 1)


def test_compare_without_any_match_misses_every_driver():
    table = im.compare(im.match([]), ["MA1270.2", "MA2030.2"], families={}, names={})
    assert table["status"].tolist() == ["missed", "missed"]


def _as_pattern(name, ppm):
    seqlets = pd.DataFrame(columns=["sequence", "start", "end", "strand"])
    return im.Pattern(name, "positive", 10, ppm, ppm, seqlets)


def test_shuffled_patterns_keep_their_columns_in_another_order():
    ppm = np.eye(4)[[0, 1, 2, 3, 3, 2]].astype(float)
    copies = im.shuffled([_as_pattern("pos_0", ppm)], 5, seed=1)
    assert [c.name for c in copies] == [f"pos_0~{i}" for i in range(5)]
    for c in copies:
        assert c.length == 6 and np.allclose(np.sort(c.ppm, axis=0), np.sort(ppm, axis=0))
        assert c.seqlets.empty
    assert any(not np.allclose(c.ppm, ppm) for c in copies)
    assert im.shuffled([_as_pattern("p", ppm)], 0) == []
    with pytest.raises(ValueError, match="n must be"):
        im.shuffled([], -1)


def test_pattern_calls_from_driver_to_no_match():
    matches = pd.DataFrame([
        _row("p_driver", 1, "SIB1", "DOF", 1e-6),
        _row("p_driver", 2, "DRV1", "DOF", 1e-5),     # a driver's own matrix, lower rank
        _row("p_family", 1, "SIB2", "myb/SANT", 1e-4),
        _row("p_other", 1, "OTHER", "WRKY", 1e-5),
        _row("p_none", 1, "DRV1", "DOF", 0.5),        # not significant
    ], columns=im.MATCH_COLUMNS)
    calls = im.pattern_calls(matches, ["DRV1", "DRV2"], families={"DRV1": "DOF", "DRV2": "MYB"})
    assert calls.to_dict() == {"p_driver": "driver", "p_family": "driver family",
                               "p_other": "other motif", "p_none": "no match"}


def test_null_calls_match_found_and_shuffled_patterns():
    jaspar = load_plant_motifs()
    dof = next(m for m in jaspar if m.matrix_id == DOF)
    real = _as_pattern("pos_0", dof.probabilities())
    table = im.null_calls({"m": [real], "empty": []}, jaspar, [DOF], shuffles=4, seed=0)
    assert table.columns.tolist() == ["model", "source", "patterns", *im.CALLS]
    found = table.set_index(["model", "source"])
    assert found.loc[("m", "found"), "driver"] == 1.0
    assert found.loc[("m", "shuffled"), "patterns"] == 4
    assert np.isclose(found.loc[("m", "shuffled"), list(im.CALLS)].sum(), 1.0)
    assert found.loc[("empty", "found"), "patterns"] == 0
    assert found.loc[("empty", "found"), list(im.CALLS)].isna().all()


def test_family_matrices_hold_the_drivers_and_their_kin():
    jaspar = load_plant_motifs()
    kin = im.family_matrices(jaspar, [DOF])
    assert DOF in kin and len(kin) < len(jaspar)
    dof_family = im._families(next(m.family for m in jaspar if m.matrix_id == DOF))
    assert all(im._families(m.family) & dof_family for m in jaspar if m.matrix_id in kin)
    with pytest.raises(ValueError, match="driver NOPE"):
        im.family_matrices(jaspar, ["NOPE"])
