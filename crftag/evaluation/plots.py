"""PNG charts for reports (matplotlib, the optional ``crftag[plot]`` extra), written atomically."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crftag.errors import CrftagError


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise CrftagError("plots need matplotlib: pip install 'crftag[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def require_matplotlib() -> None:
    """Raise the one-line error now if matplotlib is missing (before a report is printed)."""
    _pyplot()


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.tight_layout()
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)
    return path


def bars(values: dict[str, float], title: str, ylabel: str, path: Path) -> Path:
    """One bar per key, in the given order."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(5, 0.5 * len(values) + 2), 4))
    ax.bar(list(values), list(values.values()), color="#4c72b0")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", rotation=45)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    out = _save(fig, path)
    plt.close(fig)
    return out


def grouped_bars(groups: dict[str, dict[str, float]], series: Sequence[str], title: str,
                 path: Path) -> Path:
    """Bars per group (e.g. entity type), one colour per series (e.g. precision, recall, F1)."""
    plt = _pyplot()
    names = list(groups)
    x = np.arange(len(names))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(names) + 2), 4))
    for k, s in enumerate(series):
        ax.bar(x + k * width - 0.4 + width / 2, [groups[n][s] for n in names], width, label=s)
    ax.set_xticks(x, names, rotation=45, ha="right")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend()
    out = _save(fig, path)
    plt.close(fig)
    return out


def heatmap(matrix: np.ndarray, rows: Sequence[str], cols: Sequence[str], title: str, path: Path,
            xlabel: str = "", ylabel: str = "") -> Path:
    """Counts as a colour grid with the numbers written in (log-scaled colours)."""
    plt = _pyplot()
    m = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(max(5, 0.45 * len(cols) + 3), max(4, 0.4 * len(rows) + 2)))
    ax.imshow(np.log1p(m), cmap="Blues", aspect="auto")
    ax.set_xticks(range(len(cols)), cols, rotation=60, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    top = np.log1p(m.max()) if m.size else 1
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if m[i, j]:
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if np.log1p(m[i, j]) > 0.6 * top else "black")
    out = _save(fig, path)
    plt.close(fig)
    return out


def eval_plots(report: Any, tags: list, pred: list, out: Path) -> list[Path]:
    """Per-type P/R/F1 bars and the two confusion heat maps."""
    from crftag.evaluation import analysis

    rows, cols, types = analysis.type_confusion(tags, pred)
    labels, bio = analysis.label_confusion(tags, pred)
    return [grouped_bars(report.per_type, ["precision", "recall", "f1"],
                               "precision / recall / F1 per entity type", out / "per_type_prf.png"),
            heatmap(types, rows, cols, "entity-type confusion (exact spans)",
                          out / "type_confusion.png", "predicted", "gold"),
            heatmap(bio, labels, labels, "BIO label confusion (tokens)",
                          out / "label_confusion.png", "predicted", "gold")]


def reliability_plot(cal: dict, path: Path) -> Path:
    """The reliability diagram of ``crftag eval --calibration``: per confidence bin, the share of
    entities that are right against their mean confidence, raw and calibrated (the diagonal is
    perfect calibration), and how many entities each bin holds."""
    plt = _pyplot()
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(5.5, 6.5), height_ratios=[3, 1], sharex=True)
    ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=1, label="perfect")
    for key, label, colour in (("reliability_raw", f"raw (ECE {cal['ece_raw']:.3f})", "#dd8452"),
                               ("reliability", f"{cal['method']} (ECE {cal['ece']:.3f})", "#4c72b0")):
        rows = [r for r in cal[key] if r["entities"]]
        ax.plot([r["confidence"] for r in rows], [r["accuracy"] for r in rows], marker="o", color=colour,
                label=label)
    ax.set_ylabel("share of entities right")
    ax.set_title(f"entity confidence reliability ({cal['entities']} entities)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    width = 1 / cal["bins"]
    lows = [r["low"] for r in cal["reliability"]]
    hist.bar(lows, [r["entities"] for r in cal["reliability_raw"]], width=width, align="edge", alpha=0.5,
             color="#dd8452", label="raw")
    hist.bar(lows, [r["entities"] for r in cal["reliability"]], width=width, align="edge", alpha=0.5,
             color="#4c72b0", label=cal["method"])
    hist.set_xlabel("confidence")
    hist.set_ylabel("entities")
    out = _save(fig, path)
    plt.close(fig)
    return out


def stats_plots(result: dict, out: Path) -> list[Path]:
    """Entities per type, labels, sentence lengths and tag transitions of a corpus."""
    hist = {f"{b['from']}-{b['to']}": b["sentences"] for b in result["length_histogram"]}
    tr = result["transitions"]
    return [bars(result["entities"], "entity mentions per type", "mentions", out / "entities.png"),
            bars({k: v for k, v in result["labels"].items() if k != "O"},
                       "tokens per label (O left out)", "tokens", out / "labels.png"),
            bars(hist, "sentence length (tokens)", "sentences", out / "lengths.png"),
            heatmap(np.array(tr["counts"]), tr["from"], tr["to"], "tag transitions",
                          out / "transitions.png", "to", "from")]
