"""Figures of the tokenizer chapter: token lengths, vocabulary use, motif-boundary alignment."""

from __future__ import annotations

import pandas as pd


def token_lengths(table: pd.DataFrame, k: int = 6, longest: int = 16):
    """Share of BPE tokens of each length, over the vocabulary and weighted by use.

    Args:
        table: :func:`cornlib.tokenize.token_length_table` (``length``, ``vocabulary``, ``use``).
        k: k-mer length, marked next to the one-letter character tokens.
        longest: lengths from this one up share the last bar (``16+``).

    Returns:
        ``fig, ax``.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    binned = table.assign(length=table["length"].clip(upper=longest)).groupby("length").sum()
    labels = [str(n) if n < longest else f"{longest}+" for n in binned.index]
    long = pd.concat([
        pd.DataFrame({"length": labels, "counted over": "vocabulary entries",
                      "share": (binned["vocabulary"] / binned["vocabulary"].sum()).to_numpy()}),
        pd.DataFrame({"length": labels, "counted over": "tokens in use",
                      "share": (binned["use"] / binned["use"].sum()).to_numpy()}),
    ])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    sns.barplot(long, x="length", y="share", hue="counted over", ax=ax, order=labels)
    top = long["share"].max()
    for length, name in ((1, "char"), (k, f"{k}-mer")):
        if str(length) in labels:
            x = labels.index(str(length))
            ax.axvline(x, color="0.3", ls="--", lw=1)
            ax.text(x, top * 1.05, f" {name}", fontsize=9, color="0.3")
    ax.set_ylim(0, top * 1.15)
    ax.set(xlabel="token length (bp)", ylabel="share of tokens", title="BPE token lengths")
    ax.legend(title=None, frameon=False)
    sns.despine(fig)
    return fig, ax


def vocabulary_use(ranks: pd.DataFrame):
    """Rank-frequency (Zipf) curves of the tokenization schemes, log-log.

    Args:
        ranks: :func:`cornlib.tokenize.rank_frequency` (``scheme``, ``rank``, ``share``).

    Returns:
        ``fig, ax``.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(6, 4))
    sns.lineplot(ranks, x="rank", y="share", hue="scheme", ax=ax, estimator=None)
    ax.set(xscale="log", yscale="log", xlabel="token rank (1 = most used)",
           ylabel="share of all tokens", title="Vocabulary use")
    sns.despine(fig)
    return fig, ax


def motif_alignment(table: pd.DataFrame):
    """Motif-site edges on BPE token boundaries: observed against shuffled segmentations.

    Args:
        table: :func:`cornlib.tokenize.motif_alignment` (``measure``, ``observed``,
            ``shuffled``, ``shuffled_sd``).

    Returns:
        ``fig, ax``.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    long = pd.concat([
        pd.DataFrame({"measure": table["measure"], "segmentation": "BPE",
                      "fraction": table["observed"]}),
        pd.DataFrame({"measure": table["measure"], "segmentation": "BPE, tokens shuffled",
                      "fraction": table["shuffled"]}),
    ])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    sns.barplot(long, x="measure", y="fraction", hue="segmentation", ax=ax)
    # error bars: ± 2 sd of the shuffled null, on the null's bars (the second hue level)
    null_bars = ax.containers[1]
    for bar, sd in zip(null_bars, table["shuffled_sd"]):
        x = bar.get_x() + bar.get_width() / 2
        ax.errorbar(x, bar.get_height(), yerr=2 * sd, color="0.2", capsize=3, lw=1)
    ax.set(xlabel="", ylabel="fraction of motif sites",
           title=f"JASPAR sites and BPE token boundaries (n = {int(table['n_sites'].iloc[0]):,})")
    ax.legend(title=None, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)
    sns.despine(fig)
    return fig, ax
