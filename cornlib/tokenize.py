"""DNA tokenizers (byte-level BPE, overlapping k-mers, characters) and the base policy they share.

The one policy for letters (:func:`cornlib.sequence.normalize`), applied by the corpus builder,
by :func:`encode` and (as a ``tokenizers`` normalizer) inside the saved BPE tokenizer itself:

* soft-masked (lowercase) bases are upper-cased: ``acgt`` → ``ACGT``;
* IUPAC ambiguity codes become ``N``: ``RYSWKMBDHV`` (either case) → ``N``;
* anything else (``U``, gaps ``-``/``.``, digits, spaces, ``*``) is an error naming the
  sequence and the 0-based position, because it means the input is not DNA.

The saved tokenizer cannot raise, so there a non-DNA letter becomes ``<unk>``; call
:func:`cornlib.sequence.normalize` (or :func:`encode`) first to get the error instead.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cornlib import io
from cornlib.sequence import ALPHABET, IUPAC_AMBIGUITY, normalize_all

#: Special tokens in RoBERTa's order, so their ids are ``<s>``=0, ``<pad>``=1, ``</s>``=2,
#: ``<unk>``=3, ``<mask>``=4 (the defaults of ``RobertaConfig``).
SPECIAL_TOKENS: tuple[str, ...] = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
#: The files a saved tokenizer directory must hold.
TOKENIZER_FILES: tuple[str, ...] = ("tokenizer.json", "tokenizer_config.json")
#: Tokenization schemes compared in the tokenizer chapter.
SCHEMES: tuple[str, ...] = ("bpe", "kmer", "char")



# --- k-mer and character segmentation ------------------------------------------------------------

def kmers(seq: str, k: int = 6, stride: int = 1) -> list[str]:
    """Overlapping k-mers of ``seq`` (DNABERT style): ``len(seq) - k + 1`` tokens at stride 1."""
    if k < 1 or stride < 1:
        raise ValueError(f"k and stride must be ≥ 1 (got k={k}, stride={stride})")
    return [seq[i:i + k] for i in range(0, len(seq) - k + 1, stride)]


def characters(seq: str) -> list[str]:
    """One token per base."""
    return list(seq)


def vocabulary_size(scheme: str, tokenizer=None, k: int = 6) -> int:
    """Number of non-special tokens a scheme can emit (``4**k`` ACGT k-mers; 5 characters)."""
    if scheme == "bpe":
        if tokenizer is None:
            raise ValueError("scheme 'bpe' needs the tokenizer")
        return len(tokenizer) - len(SPECIAL_TOKENS)
    if scheme == "kmer":
        return 4 ** k
    if scheme == "char":
        return len(ALPHABET)
    raise ValueError(f"scheme must be one of {SCHEMES}, not {scheme!r}")


def segment(seqs: Sequence[str], scheme: str, tokenizer=None, k: int = 6) -> list[list[str]]:
    """Token strings of each (normalized) sequence under ``scheme``, without special tokens.

    Args:
        seqs: sequences over ``ACGTN`` (see :func:`cornlib.sequence.normalize`).
        scheme: ``bpe`` (needs ``tokenizer``), ``kmer`` (overlapping ``k``-mers) or ``char``.
        tokenizer: a tokenizer from :func:`train_bpe` or :func:`load`.
        k: k-mer length.

    Returns:
        One list of token strings per sequence; for ``bpe`` and ``char`` they concatenate back
        to the sequence.
    """
    if scheme == "bpe":
        if tokenizer is None:
            raise ValueError("scheme 'bpe' needs the tokenizer")
        encs = tokenizer.backend_tokenizer.encode_batch(list(seqs), add_special_tokens=False)
        return [e.tokens for e in encs]
    if scheme == "kmer":
        return [kmers(s, k) for s in seqs]
    if scheme == "char":
        return [characters(s) for s in seqs]
    raise ValueError(f"scheme must be one of {SCHEMES}, not {scheme!r}")


# --- the BPE tokenizer ---------------------------------------------------------------------------

def _backend(vocab_size: int, min_frequency: int, show_progress: bool):
    """An untrained byte-level BPE ``tokenizers.Tokenizer`` with the letter policy and its trainer."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    iupac = IUPAC_AMBIGUITY + IUPAC_AMBIGUITY.lower() + "n"
    tok.normalizer = normalizers.Sequence(
        [normalizers.Replace(Regex(f"[{iupac}]"), "N")]
        + [normalizers.Replace(c.lower(), c) for c in "ACGT"])
    # ASCII letters are their own bytes, so the byte-level alphabet needs only ACGTN: the 251
    # other bytes FloraBERT reserved would never be used on normalized DNA.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size + len(SPECIAL_TOKENS),
                                  min_frequency=min_frequency, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=list(ALPHABET), show_progress=show_progress)
    return tok, trainer


def train_bpe(sequences: Iterable[str], vocab_size: int = 5000, *, min_frequency: int = 2,
              model_max_length: int = 256, show_progress: bool = False):
    """Train a byte-level BPE tokenizer on DNA, wrapped for ``transformers``.

    Args:
        sequences: training sequences; :func:`cornlib.sequence.normalize` is applied (errors name the index).
        vocab_size: tokens besides the five :data:`SPECIAL_TOKENS` (so ``len(tok)`` is
            ``vocab_size + 5`` when the corpus has enough merges).
        min_frequency: a merge must occur at least this often.
        model_max_length: the ``model_max_length`` the tokenizer truncates to (specials included).
        show_progress: show the ``tokenizers`` trainer's progress bar.

    Returns:
        A ``PreTrainedTokenizerFast``: RoBERTa-style ``<s> X </s>`` post-processing, specials
        with ids 0..4, the letter policy as its normalizer.
    """
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    if vocab_size < len(ALPHABET):
        raise ValueError(f"vocab_size must be at least {len(ALPHABET)} (the alphabet), not {vocab_size}")
    seqs = normalize_all(sequences)
    tok, trainer = _backend(vocab_size, min_frequency, show_progress)
    tok.train_from_iterator(seqs, trainer, length=len(seqs))
    ids = {t: tok.token_to_id(t) for t in SPECIAL_TOKENS}
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", ids["<s>"]), ("</s>", ids["</s>"])])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", cls_token="<s>", sep_token="</s>",
        pad_token="<pad>", unk_token="<unk>", mask_token="<mask>",
        model_max_length=model_max_length)


def save(tokenizer, path: str | os.PathLike) -> Path:
    """Save ``tokenizer`` to the directory ``path`` atomically (``save_pretrained``); return it.

    The directory is written beside ``path`` under a temporary name and renamed into place, so a
    reader never sees half a tokenizer.
    """
    with io.atomic_dir(path) as tmp:
        tokenizer.save_pretrained(tmp)
    return Path(path)


def load(path: str | os.PathLike):
    """Load a saved tokenizer offline (the class ``AutoTokenizer.from_pretrained`` returns).

    ``transformers.AutoTokenizer.from_pretrained(path)`` gives the same tokenizer; this call
    checks the files first and skips the ``torch`` import that ``AutoTokenizer`` triggers.

    Raises:
        FileNotFoundError: ``path`` is not a directory or lacks one of :data:`TOKENIZER_FILES`
            (the message names them and says how to make the tokenizer).
    """
    from transformers import PreTrainedTokenizerFast

    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no tokenizer directory at {path}; {_how_to_make()}")
    missing = [f for f in TOKENIZER_FILES if not (path / f).is_file()]
    if missing:
        raise FileNotFoundError(f"tokenizer directory {path} lacks {', '.join(missing)}; "
                                f"{_how_to_make()}")
    return PreTrainedTokenizerFast.from_pretrained(path, local_files_only=True)


def _how_to_make() -> str:
    from cornlib import artifacts

    return f"{artifacts.how_to_make('tokenizer')} or cornlib.tokenize.save"


def encode(tokenizer, seqs: Sequence[str], seq_ids: Sequence[Any] | None = None, **kwargs: Any):
    """Normalize ``seqs`` (errors name ``seq_ids``) and encode them with ``tokenizer(...)``.

    ``kwargs`` go to the tokenizer call (``truncation=True``, ``padding=...``, ...).
    """
    return tokenizer(normalize_all(seqs, seq_ids), **kwargs)


# --- comparing the schemes -------------------------------------------------------------------------

def compare(seqs: Sequence[str], tokenizer, k: int = 6, max_length: int | None = None) -> pd.DataFrame:
    """Tokens per kb, token length and vocabulary use of BPE, overlapping k-mers and characters.

    Args:
        seqs: normalized sequences (a sample of the corpus).
        tokenizer: the BPE tokenizer.
        k: k-mer length.
        max_length: positions of the model (specials included); default the tokenizer's
            ``model_max_length``.

    Returns:
        One row per scheme: ``tokens_per_kb`` (mean), ``bp_per_token`` (new bases per token),
        ``mean_token_bp`` (letters per token, by use), ``vocab_size``, ``vocab_used``,
        ``vocab_used_fraction``, ``fits_fraction`` (sequences whose tokens plus ``<s> </s>`` fit
        in ``max_length``).
    """
    max_length = max_length or tokenizer.model_max_length
    lengths = np.array([len(s) for s in seqs])
    rows = []
    for scheme in SCHEMES:
        n_tok, counts = [], Counter()
        for toks in _iter_segments(seqs, scheme, tokenizer, k):
            n_tok.append(len(toks))
            counts.update(toks)
        n_tok = np.array(n_tok)
        vocab = vocabulary_size(scheme, tokenizer, k)
        # k-mers with N fall outside the 4**k vocabulary (a k-mer model maps them to <unk>)
        used = sum(1 for t in counts if t not in SPECIAL_TOKENS and not (scheme == "kmer" and "N" in t))
        total = sum(counts.values())
        rows.append({
            "scheme": scheme_label(scheme, k),
            "tokens_per_kb": float(np.mean(n_tok / lengths * 1000)),
            "bp_per_token": float(lengths.sum() / n_tok.sum()),
            "mean_token_bp": float(sum(len(t) * c for t, c in counts.items()) / total),
            "vocab_size": vocab, "vocab_used": used, "vocab_used_fraction": used / vocab,
            "fits_fraction": float(np.mean(n_tok + 2 <= max_length)),
        })
    return pd.DataFrame(rows)


def scheme_label(scheme: str, k: int = 6) -> str:
    """Display name of a scheme: ``BPE``, ``6-mer``, ``char``."""
    return {"bpe": "BPE", "kmer": f"{k}-mer", "char": "char"}.get(scheme, scheme)


def _iter_segments(seqs: Sequence[str], scheme: str, tokenizer, k: int) -> Iterable[list[str]]:
    """Segment lazily (one sequence at a time for k-mers and characters, to save memory)."""
    if scheme == "bpe":
        yield from segment(seqs, scheme, tokenizer, k)
    else:
        for s in seqs:
            yield segment([s], scheme, tokenizer, k)[0]


def token_counts(seqs: Sequence[str], scheme: str, tokenizer=None, k: int = 6) -> Counter:
    """How often each token of ``scheme`` occurs over ``seqs`` (streamed, no token lists kept)."""
    counts: Counter = Counter()
    for toks in _iter_segments(seqs, scheme, tokenizer, k):
        counts.update(toks)
    return counts


def usage(seqs: Sequence[str], tokenizer, k: int = 6) -> dict[str, Counter]:
    """:func:`token_counts` of every scheme, keyed by :func:`scheme_label` (``BPE``, ``6-mer``, ``char``)."""
    return {scheme_label(s, k): token_counts(seqs, s, tokenizer, k) for s in SCHEMES}


def token_length_table(tokenizer, counts: Mapping[str, int]) -> pd.DataFrame:
    """Letter length of BPE tokens, once per vocabulary entry and weighted by use.

    Args:
        tokenizer: the BPE tokenizer.
        counts: BPE token counts (``usage(...)["BPE"]``).

    Returns:
        Columns ``length`` (bp), ``vocabulary`` (entries of that length), ``use`` (occurrences
        of tokens of that length in ``counts``), one row per length.
    """
    vocab = [t for t in tokenizer.get_vocab() if t not in SPECIAL_TOKENS]
    by_vocab = Counter(len(t) for t in vocab)
    by_use: Counter = Counter()
    for tok, c in counts.items():
        by_use[len(tok)] += c
    lengths = sorted(set(by_vocab) | set(by_use))
    return pd.DataFrame({"length": lengths,
                         "vocabulary": [by_vocab.get(n, 0) for n in lengths],
                         "use": [by_use.get(n, 0) for n in lengths]})


def rank_frequency(counts_by_scheme: Mapping[str, Mapping[str, int]]) -> pd.DataFrame:
    """Token frequencies ranked within each scheme (for a Zipf plot), from :func:`usage`.

    Returns:
        Columns ``scheme``, ``rank`` (1 = most used), ``token``, ``count``, ``share``.
    """
    parts = []
    for scheme, counts in counts_by_scheme.items():
        ranked = sorted(counts.items(), key=lambda tc: -tc[1])
        total = sum(c for _, c in ranked)
        parts.append(pd.DataFrame({"scheme": scheme, "rank": np.arange(1, len(ranked) + 1),
                                   "token": [t for t, _ in ranked],
                                   "count": [c for _, c in ranked],
                                   "share": [c / total for _, c in ranked]}))
    return pd.concat(parts, ignore_index=True)


def boundaries(tokens: Sequence[str]) -> np.ndarray:
    """Interior token boundaries of one segmentation: positions ``1..L-1`` between bases.

    A boundary ``b`` lies between base ``b-1`` and base ``b`` (0-based), so a site
    ``[start, end)`` starts on a boundary when ``start`` is in the result.
    """
    ends = np.cumsum([len(t) for t in tokens])
    return ends[:-1]


def show_segmentations(seq: str, tokenizer, k: int = 6, start: int = 0, end: int | None = None,
                       width: int = 96) -> str:
    """The bases ``[start, end)`` of ``seq`` under each scheme, as wrapped text for display.

    BPE and character tokens are joined by ``|`` (BPE tokens that straddle ``start``/``end`` are
    shown whole); overlapping k-mers, which cannot be joined, are listed for the first bases.
    Lines break between tokens.
    """
    end = len(seq) if end is None else end
    piece = seq[start:end]
    shown = _covering(segment([seq], "bpe", tokenizer)[0], start, end).split("|")
    kms = kmers(piece, k)
    blocks = [
        (f"bases {start}..{end} ({end - start} bp)", _wrap(list(piece), "", width)),
        (f"BPE: {len(shown)} tokens", _wrap(shown, "|", width)),
        (f"{k}-mer: {len(kms)} overlapping tokens, each shifted by one base",
         _wrap(kms[:12] + ["…"], " ", width)),
        (f"char: {len(piece)} tokens", _wrap(list(piece), "|", width)),
    ]
    return "\n".join(line for title, lines in blocks for line in [title] + lines)


def _wrap(tokens: Sequence[str], sep: str, width: int) -> list[str]:
    """Join ``tokens`` with ``sep`` into indented lines of at most ``width`` letters.

    Lines break between tokens, never inside one.
    """
    lines, line = [], ""
    for tok in tokens:
        joined = f"{line}{sep}{tok}" if line else tok
        if line and len(joined) > width:
            lines.append("  " + line + sep)
            line = tok
        else:
            line = joined
    return lines + (["  " + line] if line else [])


def sites(hits: pd.DataFrame, motif_table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Distinct motif sites ``seq_id, start, end`` (0-based half-open) from a hit table.

    Args:
        hits: :func:`cornlib.motifs.scan` output (``gene_id``, ``motif``, ``start``) or a table
            that already has ``seq_id``/``gene_id``, ``start`` and ``end``.
        motif_table: :func:`cornlib.motifs.motif_table` (``matrix_id``, ``length``, optional
            ``name``), needed when ``hits`` has no ``end``.

    Returns:
        One row per distinct span (hits of several motifs on one span count once); when
        ``hits`` has a ``motif`` column, ``motifs`` lists the motif names found there and
        ``score`` keeps the best hit score.
    """
    df = hits.rename(columns={"gene_id": "seq_id"})
    for col in ("seq_id", "start"):
        if col not in df.columns:
            raise ValueError(f"hits lack column {col!r} (has {list(hits.columns)})")
    table = motif_table.set_index("matrix_id") if motif_table is not None else None
    if "end" not in df.columns:
        if table is None or "motif" not in df.columns:
            raise ValueError("hits have no 'end' column: pass motif_table "
                             "(cornlib.motifs.motif_table) and hits with a 'motif' column")
        unknown = set(df["motif"]) - set(table.index)
        if unknown:
            raise ValueError(f"motif_table lacks motifs {sorted(unknown)[:3]}")
        df = df.assign(end=df["start"] + df["motif"].map(table["length"]).astype(int))
    keys = ["seq_id", "start", "end"]
    if "motif" not in df.columns:
        return df[keys].drop_duplicates().reset_index(drop=True)
    if table is not None and "name" in table.columns:
        df = df.assign(motif=df["motif"].map(table["name"]).fillna(df["motif"]))
    aggs = {"motifs": ("motif", lambda m: ",".join(dict.fromkeys(m)))}
    if "score" in df.columns:
        aggs["score"] = ("score", "max")
    return df.groupby(keys, sort=False).agg(**aggs).reset_index()


def site_tokens(tokens: Sequence[str], seq_sites: pd.DataFrame) -> pd.DataFrame:
    """The BPE tokens that cover each site of one sequence, and whether the site's edges are boundaries.

    Args:
        tokens: the sequence's BPE tokens.
        seq_sites: its rows of :func:`sites` (``start``, ``end``, optional ``motifs``).

    Returns:
        ``seq_sites`` with ``site`` (the bases), ``tokens`` (covering tokens joined by ``|``),
        ``start_on_boundary`` and ``end_on_boundary``.
    """
    seq = "".join(tokens)
    bounds = set(boundaries(tokens).tolist()) | {0, len(seq)}
    out = seq_sites.copy()
    out["site"] = [seq[a:b] for a, b in zip(out["start"], out["end"])]
    out["tokens"] = [_covering(tokens, a, b) for a, b in zip(out["start"], out["end"])]
    out["start_on_boundary"] = out["start"].isin(bounds)
    out["end_on_boundary"] = out["end"].isin(bounds)
    return out


def _covering(tokens: Sequence[str], start: int, end: int) -> str:
    """Tokens overlapping ``[start, end)`` joined by ``|``."""
    out, pos = [], 0
    for tok in tokens:
        if pos + len(tok) > start and pos < end:
            out.append(tok)
        pos += len(tok)
    return "|".join(out)


#: The ways a motif site can lie on token boundaries, one row each of :func:`motif_alignment`.
MEASURES: tuple[str, ...] = ("start on boundary", "end on boundary", "both edges",
                             "site inside one token")


def motif_alignment(segments: Mapping[Any, Sequence[str]], site_table: pd.DataFrame, *,
                    seed: int = 0, n_shuffles: int = 20) -> pd.DataFrame:
    """How often motif-site edges fall on BPE token boundaries, against shuffled segmentations.

    The null keeps each sequence's tokens but shuffles their order (same token lengths, same
    number of boundaries, random places), ``n_shuffles`` times with ``seed``.

    Args:
        segments: token strings per sequence id (tokens concatenate to the sequence).
        site_table: :func:`sites` (``seq_id``, ``start``, ``end``: 0-based half-open along the
            sequence as tokenized); sites touching a sequence end are not counted.
        seed: seed of the shuffles.
        n_shuffles: shuffled segmentations per sequence.

    Returns:
        One row per :data:`MEASURES` entry with ``observed``, ``shuffled`` (mean over shuffles),
        ``shuffled_sd``, ``ratio`` (observed / shuffled) and ``n_sites``.
    """
    missing = {"seq_id", "start", "end"} - set(site_table.columns)
    if missing:
        raise ValueError(f"sites lack columns {sorted(missing)}; make them with cornlib.tokenize.sites")
    unknown = set(site_table["seq_id"]) - set(segments)
    if unknown:
        raise ValueError(f"{len(unknown)} site seq_ids have no segmentation, e.g. "
                         f"{sorted(map(str, unknown))[:3]}")
    rng = np.random.default_rng(seed)
    obs, null, n_sites = np.zeros(4), np.zeros((n_shuffles, 4)), 0
    for sid, group in site_table.groupby("seq_id", sort=False):
        toks = list(segments[sid])
        length = sum(len(t) for t in toks)
        s, e = group["start"].to_numpy(), group["end"].to_numpy()
        keep = (s > 0) & (e < length) & (e > s)
        s, e = s[keep], e[keep]
        if not len(s):
            continue
        n_sites += len(s)
        obs += _edge_stats(boundaries(toks), s, e)
        for i in range(n_shuffles):
            perm = rng.permutation(len(toks))
            null[i] += _edge_stats(boundaries([toks[j] for j in perm]), s, e)
    frac_obs, frac_null = obs / max(n_sites, 1), null / max(n_sites, 1)
    mean_null = frac_null.mean(axis=0)
    return pd.DataFrame({"measure": list(MEASURES), "observed": frac_obs, "shuffled": mean_null,
                         "shuffled_sd": frac_null.std(axis=0),
                         "ratio": frac_obs / np.where(mean_null > 0, mean_null, np.nan),
                         "n_sites": n_sites})


def _edge_stats(bounds: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Counts of sites whose start / end / both edges are boundaries, and of sites in one token."""
    on_s = np.isin(start, bounds)
    on_e = np.isin(end, bounds)
    # boundaries strictly inside (start, end): none means one token covers the whole site
    inside = np.searchsorted(bounds, end, side="left") - np.searchsorted(bounds, start, side="right")
    return np.array([on_s.sum(), on_e.sum(), (on_s & on_e).sum(), (inside == 0).sum()], float)
