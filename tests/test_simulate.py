"""cornlib.data.simulate: the seeded stand-in, its truth sites, zeros and noise ceiling."""

import json

import numpy as np
import pandas as pd
import pytest

from cornlib import motifs
from cornlib.data import simulate, stand_in

CONSENSUS = ["TGACGTCA", "CACGTGGC", "GGGCCCAC", "CCGACATG", "AGATCTGC", "GTCGACGG"]
SMALL = dict(n_tissues=4, n_drivers=4, min_information=8.0, n_tissue_groups=2, zero_fraction=0.2)


@pytest.fixture(scope="module")
def pool():
    return [motifs.from_consensus(c, f"M{i}", f"tf{i}", n_sites=50) for i, c in enumerate(CONSENSUS)]


@pytest.fixture(scope="module")
def promoters():
    """400 random 300-bp promoters; some carry planted sites and a TATA box at -30."""
    rng = np.random.default_rng(0)
    seqs = []
    for i in range(400):
        s = list(rng.choice(list("ACGT"), size=300))
        for _ in range(int(rng.integers(0, 3))):
            site = CONSENSUS[int(rng.integers(len(CONSENSUS)))]
            at = int(rng.integers(0, 280))
            s[at:at + 8] = site
        if i % 2:
            s[266:274] = "TATAAATA"
        seqs.append("".join(s))
    return pd.DataFrame({"gene_id": [f"G{i:03d}" for i in range(400)], "species": "toy", "sequence": seqs})


@pytest.fixture(scope="module")
def sim(promoters, pool):
    return simulate.simulate(promoters, seed=7, motifs=pool, **SMALL)


def test_same_seed_gives_the_same_data_and_another_seed_does_not(promoters, pool, sim):
    again = simulate.simulate(promoters, seed=7, motifs=pool, **SMALL)
    other = simulate.simulate(promoters, seed=8, motifs=pool, **SMALL)
    pd.testing.assert_frame_equal(sim.expression, again.expression)
    pd.testing.assert_frame_equal(sim.truth_sites, again.truth_sites)
    assert json.dumps(sim.card, default=str) == json.dumps(again.card, default=str)
    assert not np.allclose(sim.expression.iloc[:, 1:], other.expression.iloc[:, 1:])


def test_tissue_names_say_they_are_simulated(sim):
    assert sim.card["kind"] == "simulated"
    assert sim.card["tissues"] == list(sim.expression.columns[1:])
    assert all(t.startswith("sim_t") for t in sim.card["tissues"])


def test_truth_sites_rebuild_the_mean_exactly(sim):
    beta = np.array([list(d["effects"].values()) for d in sim.card["drivers"]])  # D, T
    index = {d["matrix_id"]: k for k, d in enumerate(sim.card["drivers"])}
    drivers = sim.truth_sites[sim.truth_sites["role"] == "driver"]
    rows = pd.Index(sim.expression["gene_id"]).get_indexer(drivers["gene_id"])
    rebuilt = np.tile(sim.components["baseline"], (len(sim.expression), 1))
    np.add.at(rebuilt, rows, drivers["weight"].to_numpy()[:, None] * beta[drivers["motif"].map(index)])
    np.testing.assert_allclose(rebuilt, sim.components["mean"], atol=1e-9)
    assert np.abs(sim.components["motif_effect"]).max() > 0.5


def test_a_gene_without_driver_sites_has_only_baseline_gene_effect_and_noise(sim):
    c = sim.components
    drivers = sim.truth_sites.loc[sim.truth_sites["role"] == "driver", "gene_id"]
    without = ~sim.expression["gene_id"].isin(drivers)
    assert without.sum() > 20
    rows = without.to_numpy()
    np.testing.assert_array_equal(c["motif_effect"][rows], 0.0)
    expected = np.maximum(c["baseline"] + c["gene_effect"][rows, None] + c["noise"][rows], 0.0)
    expected[c["silenced"][rows]] = 0.0
    np.testing.assert_allclose(sim.expression.iloc[:, 1:].to_numpy()[rows], expected)


def test_the_core_element_gates_the_drivers(sim):
    with_core = set(sim.truth_sites.loc[sim.truth_sites["role"] == "core", "gene_id"])
    gate = pd.Series(sim.components["gate"], index=sim.expression["gene_id"])
    assert len(with_core) > 50
    assert (gate[list(with_core)] == 1.0).all()
    assert (gate.drop(list(with_core)) == simulate.SimulationConfig().core_leak).all()


def test_noise_ceiling_matches_a_direct_r2(sim):
    from sklearn.metrics import r2_score

    for t in sim.card["tissues"]:
        direct = r2_score(sim.expression[t], sim.signal[t])
        assert sim.card["noise_ceiling_r2"][t] == pytest.approx(direct, rel=1e-9)
        assert 0 < direct < 1


def test_signal_is_the_expected_observation():
    rng = np.random.default_rng(1)
    mean, zero_p, sd = np.array([[-0.5, 0.3, 2.0]]), np.array([[0.1, 0.4, 0.0]]), 0.7
    draws = np.where(rng.random((200_000, 3)) < zero_p, 0.0,
                     np.maximum(mean + rng.normal(0, sd, (200_000, 3)), 0.0))
    np.testing.assert_allclose(simulate.expected_expression(mean, zero_p, sd)[0],
                               draws.mean(axis=0), atol=0.01)


def test_zero_fraction_is_as_configured(promoters, pool):
    sim = simulate.simulate(promoters, seed=3, motifs=pool, **{**SMALL, "zero_fraction": 0.3})
    observed = (sim.expression.iloc[:, 1:] == 0).mean()
    assert np.abs(observed - 0.3).max() < 4 * np.sqrt(0.3 * 0.7 / len(promoters))
    assert sim.card["zero_fraction_observed"] == pytest.approx(observed.mean())


def test_tss_index_uses_genomic_coordinates_when_present():
    table = pd.DataFrame({"sequence": ["A" * 10, "A" * 10], "start": [100, 200], "end": [110, 210],
                          "strand": ["+", "-"], "tss": [110, 199]})
    assert simulate.tss_index(table).tolist() == [10, 10]
    assert simulate.tss_index(table[["sequence"]], downstream=2).tolist() == [8, 8]


def test_save_writes_the_run_directory_targets(sim, tmp_path):
    paths = simulate.save(sim, tmp_path)
    assert sorted(p.name for p in (tmp_path / "targets").iterdir()) == [
        "card.json", "expression.parquet", "signal.parquet", "truth_sites.parquet"]
    card = json.loads(paths["card"].read_text())
    assert card["kind"] == "simulated" and set(card["noise_ceiling_r2"]) == set(card["tissues"])
    pd.testing.assert_frame_equal(pd.read_parquet(paths["expression"]), sim.expression, check_dtype=False)


def test_measured_targets_carry_no_truth():
    table = pd.DataFrame({"gene_id": ["a", "b"], "root": [0.0, 1.5], "leaf": [2.0, 0.0]})
    targets = simulate.measured(table)
    assert targets.card["kind"] == "measured" and targets.card["noise_ceiling_r2"] is None
    assert targets.truth_sites.empty and targets.signal is None


@pytest.mark.parametrize("change, message", [
    (lambda p: p.drop(columns="sequence"), "lack column"),
    (lambda p: p.iloc[:0], "empty"),
    (lambda p: p.assign(gene_id=["G000"] * len(p)), "more than once"),
    (lambda p: p.assign(sequence=[""] + list(p["sequence"][1:])), "no sequence"),
])
def test_bad_promoters_are_rejected(promoters, pool, change, message):
    with pytest.raises(ValueError, match=message):
        simulate.simulate(change(promoters), seed=0, motifs=pool, **SMALL)


@pytest.mark.parametrize("params, message", [
    ({"zero_fraction": 1.0}, "zero_fraction"),
    ({"n_tissues": 0}, "n_tissues"),
    ({"core_window": (-10, -20)}, "core_window"),
    ({"n_drivers": 50}, "TF families"),
    ({"tissues": 3}, "unknown simulation parameter"),
])
def test_bad_parameters_are_rejected(promoters, pool, params, message):
    with pytest.raises(ValueError, match=message):
        simulate.simulate(promoters, seed=0, motifs=pool, **{**SMALL, **params})


def test_tissue_names_are_neutral():
    assert simulate.tissue_names(3) == ["sim_t01", "sim_t02", "sim_t03"]


def test_gate_effect_is_the_share_the_open_gate_adds(sim, promoters):
    species = np.where(np.arange(len(promoters)) < 200, "first", "second")
    table = stand_in.gate_effect(sim, species)
    gate = sim.components["gate"] == 1.0
    assert table.loc["all", "gate_open"] == pytest.approx(gate.mean())
    assert table.loc["first", "genes"] == 200 and set(table.index) == {"first", "second", "all"}
    assert 0 < table.loc["all", "variance_share"] < 1
    closed = simulate.simulate(promoters, seed=7, motifs=pool_of(sim), **{**SMALL, "core_leak": 1.0})
    assert stand_in.gate_effect(closed)["variance_share"].iloc[0] == 0.0  # no gate, nothing added


def pool_of(sim):
    return [m for m in sim.drivers if m.matrix_id != simulate.CORE_ID]


def test_site_summary_and_density(sim, promoters):
    summary = stand_in.site_summary(sim)
    drivers = sim.truth_sites[sim.truth_sites["role"] == "driver"]
    assert summary["sites_per_promoter"] == pytest.approx(len(drivers) / len(promoters))
    assert summary["mean_position_min"] <= summary["mean_position_max"] < 0
    density = stand_in.site_density(sim.truth_sites, promoters, bin_size=50)
    assert density["sites"].sum() == len(drivers)
    assert density["bases"].sum() == promoters["sequence"].str.len().sum()
    assert density["contribution"].sum() == pytest.approx(drivers["contribution"].abs().sum())


def test_ceiling_table_and_sentence(sim):
    table = stand_in.ceiling_table(sim)
    assert list(table["tissue"]) == sim.card["tissues"]
    assert (table["active_drivers"] >= 0).all() and (table["driver_variance"] >= 0).all()
    sentence = stand_in.ceiling_sentence(table)
    assert "Spearman" in sentence and f"{table['noise_ceiling_r2'].min():.3f}" in sentence
    flat = table.assign(active_drivers=3)
    assert "does not vary" in stand_in.ceiling_sentence(flat)


def test_composition_r2_is_a_fraction(sim, promoters):
    assert 0 <= stand_in.composition_r2(sim, promoters) < 1


def test_card_gives_the_gate_share_per_species(sim):
    by_species = sim.card["core_element"]["fraction_with_core_by_species"]
    assert by_species == {"toy": pytest.approx(sim.card["core_element"]["fraction_with_core"])}
