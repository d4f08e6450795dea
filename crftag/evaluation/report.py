"""Every report crftag prints, rendered in one place: text, markdown and JSON.

The evaluation, analysis, statistics and benchmark modules compute plain data (a
:class:`~crftag.evaluation.scores.Report`, dicts of numbers); this module turns that data
into what a person reads. The command line only calls these functions and echoes them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from crftag.evaluation.scores import Report

# -- crftag eval --------------------------------------------------------------------------------


def conlleval_text(report: Report) -> str:
    """The report exactly as the conlleval script prints it."""
    c, o = report.counts, report.overall
    lines = [
        f"processed {c.tokens} tokens with {o['gold']} phrases; "
        f"found: {o['guessed']} phrases; correct: {o['correct']}.",
        f"accuracy: {report.token_accuracy:6.2f}%; precision: {o['precision']:6.2f}%; "
        f"recall: {o['recall']:6.2f}%; FB1: {o['f1']:6.2f}",
    ]
    for t, s in report.per_type.items():
        lines.append(f"{t:>17}: precision: {s['precision']:6.2f}%; recall: {s['recall']:6.2f}%; "
                     f"FB1: {s['f1']:6.2f}  {s['guessed']}")
    return "\n".join(lines) + "\n"


def report_text(report: Report) -> str:
    """conlleval's lines, then the no-types (segmentation) score and token-level macro F1."""
    m, n = report.macro_non_o, report.notypes_overall
    return (
        conlleval_text(report)
        + f"no types (segmentation): precision: {n['precision']:6.2f}%; "
        f"recall: {n['recall']:6.2f}%; FB1: {n['f1']:6.2f}\n"
        + f"token-level macro non-O ({m['labels']} labels): precision: {m['precision']:6.2f}%; "
        f"recall: {m['recall']:6.2f}%; F1: {m['f1']:6.2f}\n"
    )


def report_markdown(report: Report) -> str:
    rows = ["| type | precision | recall | F1 | gold | found | correct |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for t, s in [*report.per_type.items(), ("**overall**", report.overall),
                 ("no types", report.notypes_overall)]:
        rows.append(f"| {t} | {s['precision']:.2f} | {s['recall']:.2f} | {s['f1']:.2f} | "
                    f"{s['gold']} | {s['guessed']} | {s['correct']} |")
    rows.append("")
    rows.append(f"Token accuracy {report.token_accuracy:.2f}%; token-level macro non-O F1 "
                f"{report.macro_non_o['f1']:.2f}.")
    return "\n".join(rows) + "\n"


def render_report(report: Report, fmt: str, extras: dict | None = None) -> str:
    """``crftag eval``'s output in ``fmt`` (text, markdown or json), with its optional analyses."""
    extras = extras or {}
    if fmt == "json":
        return json.dumps({**report.to_dict(), **extras}, indent=1) + "\n"
    body = report_markdown(report) if fmt == "markdown" else report_text(report)
    return body + extras_text(extras)


def _grid(rows: Sequence[str], cols: Sequence[str], counts) -> list[str]:
    width = max(6, *(len(c) + 1 for c in cols))
    head = max(len(r) for r in rows) + 1
    out = [" " * head + "".join(f"{c:>{width}}" for c in cols)]
    out += [f"{r:<{head}}" + "".join(f"{k:>{width}}" for k in row)
            for r, row in zip(rows, counts, strict=True)]
    return out


def calibration_lines(cal: dict) -> list[str]:
    """The calibration error and the reliability table of ``crftag eval --calibration``."""
    lines = [f"confidence calibration ({cal['entities']} predicted entities, {cal['correct']} right; "
             f"map: {cal['method']}): expected calibration error {cal['ece']:.4f} "
             f"(raw confidences {cal['ece_raw']:.4f}; {cal['bins']} equal-width bins)",
             f"{'confidence':<12}{'entities':>9}{'mean conf':>11}{'right':>8}{'gap':>8}"
             f"{'raw: entities':>15}{'mean conf':>11}{'right':>8}"]

    def cells(row: dict, gap: bool) -> str:
        if not row["entities"]:
            return f"{0:>9}{'-':>11}{'-':>8}" + (f"{'-':>8}" if gap else "")
        out = f"{row['entities']:>9}{row['confidence']:>11.3f}{row['accuracy']:>8.3f}"
        return out + (f"{row['gap']:>+8.3f}" if gap else "")

    for row, raw in zip(cal["reliability"], cal["reliability_raw"], strict=True):
        lines.append(f"{row['low']:.1f}-{row['high']:.1f}".ljust(12) + cells(row, True) + "      "
                     + cells(raw, False))
    return lines


def extras_text(extras: dict) -> str:
    """Plain-text sections for :func:`crftag.evaluation.analysis.eval_extras`."""
    lines: list[str] = []
    if "bootstrap" in extras:
        b = extras["bootstrap"]
        lines.append(f"entity F1 {b['f1']:.2f}, {100 * b['level']:.0f}% bootstrap interval "
                     f"[{b['low']:.2f}, {b['high']:.2f}] ({b['resamples']} resamples of sentences, "
                     f"seed {b['seed']})")
    if "paired_bootstrap" in extras:
        p = extras["paired_bootstrap"]
        who = "these predictions" if "predictions" in extras else "this model"
        lines.append(f"paired bootstrap: {who} F1 {p['f1_a']:.2f} vs {extras['compared_with']} "
                     f"{p['f1_b']:.2f}, difference {p['delta']:+.2f}, p = {p['p_value']:.4f} "
                     f"({p['resamples']} resamples)")
    if "token_auc" in extras:
        a = extras["token_auc"]
        lines.append(f"token-level one-vs-rest ({extras['token_scores']}), macro over {a['labels']} labels: "
                     f"ROC-AUC {a['roc_auc_macro']:.4f}, PR-AUC {a['pr_auc_macro']:.4f}; "
                     f"non-O labels: ROC-AUC {a['roc_auc_macro_non_o']:.4f}, "
                     f"PR-AUC {a['pr_auc_macro_non_o']:.4f}")
    if "calibration" in extras:
        lines += ["", *calibration_lines(extras["calibration"])]
    if "type_confusion" in extras:
        c = extras["type_confusion"]
        lines += ["", "entity-type confusion (rows: gold, columns: predicted; exact spans):",
                  *_grid(c["rows"], c["cols"], c["counts"])]
    if "label_confusion" in extras:
        c = extras["label_confusion"]
        lines += ["", "BIO label confusion (rows: gold, columns: predicted; tokens):",
                  *_grid(c["labels"], c["labels"], c["counts"])]
    for kind in ("false_positives", "false_negatives"):
        if kind in extras.get("errors", {}):
            lines += ["", f"most frequent {kind.replace('_', ' ')}:"]
            lines += [f"  {e['count']:>3} x {e['text']!r} ({e['type']}): {e['context']}"
                      for e in extras["errors"][kind]]
    return "\n".join(lines) + ("\n" if lines else "")


# -- crftag stats -------------------------------------------------------------------------------


def stats_text(stats: dict) -> str:
    """A plain-text report of :func:`crftag.evaluation.stats.corpus_stats`."""
    lines = [f"sentences: {stats['sentences']}  tokens: {stats['tokens']}  "
             f"sentences with entities: {stats['sentences_with_entities']}  "
             f"entities: {stats['entities_total']}"]
    ln = stats["length"]
    lines.append(f"sentence length: min {ln['min']}  median {ln['median']}  mean {ln['mean']:.2f}  "
                 f"max {ln['max']}")
    if "oov" in stats:
        o = stats["oov"]
        lines.append(f"out of vocabulary (vs {o['reference_vocabulary']} reference words): "
                     f"{o['token_rate']:.2f}% of tokens, {o['type_rate']:.2f}% of distinct words")
    lines.append("\nentities per type:")
    lines += [f"  {t:<14} {n:>6}" for t, n in stats["entities"].items()]
    lines.append("\nlabels:")
    total = stats["tokens"] or 1
    lines += [f"  {t:<16} {n:>7}  {100 * n / total:6.2f}%" for t, n in stats["labels"].items()]
    lines.append("\nsentence lengths:")
    peak = max((b["sentences"] for b in stats["length_histogram"]), default=1) or 1
    lines += [f"  {b['from']:>3}-{b['to']:<3} {b['sentences']:>6}  {'#' * round(40 * b['sentences'] / peak)}"
              for b in stats["length_histogram"]]
    tr = stats["transitions"]
    lines.append("\ntag transitions (row: from, column: to):")
    width = max(len(n) for n in tr["to"] + tr["from"]) + 1
    lines.append(" " * width + "".join(f"{n:>{width}}" for n in tr["to"]))
    for name, row in zip(tr["from"], tr["counts"], strict=True):
        lines.append(f"{name:<{width}}" + "".join(f"{k:>{width}}" for k in row))
    return "\n".join(lines) + "\n"


# -- crftag search / stability ------------------------------------------------------------------


def search_markdown(ranked: Sequence[dict], space: dict) -> str:
    """The ranked candidates of :func:`crftag.tools.search.search`, best first."""
    keys = sorted(space)
    lines = ["| rank | features | " + " | ".join(keys) + " | dev P | dev R | dev F1 | train s |",
             "|---|---|" + "---|" * len(keys) + "---:|---:|---:|---:|"]
    for i, r in enumerate(ranked, 1):
        cells = [str(r["params"][k]) for k in keys]
        lines.append(f"| {i} | {r['features']} | " + " | ".join(cells) + f" | {r['dev_precision']:.2f} | "
                     f"{r['dev_recall']:.2f} | {r['dev_f1']:.2f} | {r['train_s']:.1f} |")
    return "\n".join(lines) + "\n"


def stability_text(result: dict, backend: str, vary: str, threshold: float) -> str:
    """Each run's dev F1, their spread, and a flag when it exceeds ``threshold``."""
    lines = [f"run {r['run']}: dev F1 {r['dev_f1']:.2f} ({r['train_s']:.1f}s)" for r in result["runs"]]
    lines.append(f"{backend}, vary {vary}, {len(result['runs'])} runs: mean {result['mean']:.2f}, "
                 f"std {result['std']:.2f}, min {result['min']:.2f}, max {result['max']:.2f}")
    if result["flagged"]:
        lines.append(f"UNSTABLE: std {result['std']:.2f} exceeds {threshold:.2f} F1 points")
    return "\n".join(lines) + "\n"


# -- crftag info / backends / train -------------------------------------------------------------


def _first_pass_text(entry: dict[str, Any]) -> str:
    record = entry.get("record", {})
    sources = ", ".join(src["source"] for src in record.get("sources", []))
    return (f"{entry['group']}: a first pass on {sources} ({record.get('sentences', 0):,} sentences, "
            f"{record.get('left_out', 0):,} of the training data's left out; {len(entry['labels'])} labels)")


def calibration_text(meta: dict[str, Any]) -> str:
    """A model's confidence calibration in one line: the method, what it was chosen from, and how
    it did on dev."""
    fit = meta.get("fit") or {}
    if not fit.get("cv_ece"):
        return meta["method"] + (f" ({fit['why']})" if fit.get("why") else "")
    cv = ", ".join(f"{m} {e:.3f}" for m, e in fit.get("cv_ece", {}).items())
    text = (f"{meta['method']} (fitted on {fit.get('entities', 0):,} entities of {fit.get('data', '?')}; "
            f"cross-validated calibration error: {cv})")
    dev = fit.get("dev_ece")
    if dev:
        text += f"; dev calibration error {dev['raw']:.3f} raw, {dev['calibrated']:.3f} calibrated"
    return text


def model_info_text(details: dict[str, Any]) -> str:
    """``crftag info``: one ``key: value`` line per field of :meth:`crftag.Tagger.info`."""
    lines = []
    for key, value in details.items():
        if key == "dev_scores":
            o = value["overall"]
            value = f"precision {o['precision']:.2f}  recall {o['recall']:.2f}  F1 {o['f1']:.2f}"
        elif key == "lexicon":
            lists = value.get("gazetteer_lists") or []
            sources = ", ".join(f"{ref} ({len(files)} file{'s' * (len(files) != 1)})"
                                for ref, files in value.get("sources", {}).items())
            value = (f"clusters for {value.get('cluster_groups') or 'none'}; {len(lists)} gazetteer "
                     f"lists; from {sources or 'nothing'} (sha256 of each file: --json)")
        elif key == "stack":
            value = "; ".join(_first_pass_text(p) for p in value.get("passes", []))
        elif key == "calibration":
            value = calibration_text(value)
        elif isinstance(value, (dict, list)):
            value = json.dumps(value)
        lines.append(f"{key}: {value}")
    return "\n".join(lines) + "\n"


def training_summary(meta: dict[str, Any], backend: str, model_path: str, elapsed: float) -> str:
    """What ``crftag train`` says when it is done: data, time, SGD's alpha grid, dev scores."""
    tr = meta["training"]
    used = tr.get("sentences_after_sampling", tr["sentences"])
    if used == tr["sentences"]:
        data = f"{tr['sentences']} sentences ({tr['tokens']} tokens)"
    else:  # --empty-fraction and --oversample change what the model sees: both counts, and why
        why = [f"--empty-fraction {tr['empty_fraction']:g}"] if tr.get("empty_fraction", 1) < 1 else []
        why += [f"--oversample {tr['oversample']}"] if tr.get("oversample", 1) > 1 else []
        bag = " per bag" if tr.get("bags", 1) > 1 else ""
        data = (f"{used} sentences{bag} ({', '.join(why) or 'sampled'}) from {tr['sentences']} read "
                f"({tr['tokens']} tokens)")
    lines = [f"trained {backend} on {data} in {elapsed:.1f}s; model written to {model_path}"]
    fit = meta.get("fit_info") or {}
    if fit.get("alpha_search_dev_f1"):
        grid = ", ".join(f"{a}: {f:.2f}" for a, f in fit["alpha_search_dev_f1"].items())
        lines.append(f"alpha grid (dev F1): {grid}; chosen alpha={fit['alpha']:g}")
    if "dev_scores" in meta:
        o = meta["dev_scores"]["overall"]
        lines.append(f"dev: precision {o['precision']:.2f}  recall {o['recall']:.2f}  F1 {o['f1']:.2f}")
    if "calibration" in meta:
        lines.append(f"confidences: {calibration_text(meta['calibration'])}")
    return "\n".join(lines) + "\n"


def backends_text(found: Sequence[Any], with_params: bool = False) -> str:
    """``crftag backends``: one line per installed backend (and its parameters)."""
    width = max((len(b.name) for b in found), default=4)
    lines = []
    for b in found:
        status = "available" if b.available else f"unavailable: {b.reason}"
        lines.append(f"{b.name:<{width}}  {status}  [{b.target} from {b.distribution}]")
        if with_params:
            key_width = max((len(k) for k in b.params), default=0)
            lines += [f"    {k:<{key_width}}  {p.describe()}; default {_default(p.default)}: {p.help}"
                      for k, p in b.params.items()]
    return "\n".join(lines) + ("\n" if lines else "")


def backends_json(found: Sequence[Any], with_params: bool = False) -> str:
    """``crftag backends --json``."""
    rows = []
    for b in found:
        row = {"name": b.name, "available": b.available, "target": b.target,
               "distribution": b.distribution, "reason": b.reason}
        if with_params:
            row["params"] = {k: {"type": p.type.__name__, "default": p.default, "accepts": p.describe(),
                                 "help": p.help} for k, p in b.params.items()}
        rows.append(row)
    return json.dumps(rows, indent=1) + "\n"


def _default(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(f"{v:g}" for v in value)
    return str(value)


# -- crftag bench -------------------------------------------------------------------------------


def bench_markdown(result: dict) -> str:
    """The overall table of :func:`crftag.tools.bench.run_bench`, then per-type dev F1."""
    rows = result["rows"]
    base = next((r["tokens_per_s"] for r in rows if r["backend"] == "crf"), None)
    splits = ["dev", *(["test"] if result["test"] else [])]
    head = ["backend", *[f"{s} F1" for s in splits], "dev no-types F1", "train s", "tokens/s",
            *(["vs crf"] if base else []), "p50 us", "p99 us", "model MB", "peak MB"]
    lines = [f"crftag bench: trained on {result['train']}, scored on {result['dev']}"
             f"{' and ' + result['test'] if result['test'] else ''}; feature set {result['features']} "
             f"(for the backends built on crftag's features; spacy has its own); "
             f"{result['cores']} cores; tokens/s on {result['tokens']:,} tokens of dev, latency over "
             f"{result['calls']:,} single-tweet calls", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["backend"], *[f"{r[s]['f1']:.2f}" for s in splits], f"{r['dev']['notypes_f1']:.2f}",
                 f"{r['train_s']:.1f}", f"{r['tokens_per_s']:,.0f}",
                 *([f"{r['tokens_per_s'] / base:.3g}x"] if base else []),
                 f"{r['p50_us']:.0f}", f"{r['p99_us']:.0f}", f"{r['model_mb']:.1f}",
                 f"{r['peak_rss_mb']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    types = sorted({t for r in rows for t in r["dev"]["per_type_f1"]})
    if rows:
        lines += ["", "Dev F1 per type:", "", "| type | " + " | ".join(r["backend"] for r in rows) + " |",
                  "|" + "---|" * (len(rows) + 1)]
        lines += ["| " + " | ".join([t, *[f"{r['dev']['per_type_f1'].get(t, 0.0):.2f}" for r in rows]])
                  + " |" for t in types]
    for name, why in result["not_run"].items():
        lines.append(f"\nnot run: {name} ({why})")
    return "\n".join(lines) + "\n"


def corpus_summary_markdown(results: dict[str, dict]) -> str:
    """Dev F1 of each backend on each corpus (``crftag bench --corpus``)."""
    corpora = list(results)
    backends = list(dict.fromkeys(r["backend"] for res in results.values() for r in res["rows"]))
    f1 = {(c, r["backend"]): r["dev"]["f1"] for c, res in results.items() for r in res["rows"]}
    lines = ["| backend | " + " | ".join(f"{c} dev F1" for c in corpora) + " |",
             "|---|" + "---:|" * len(corpora)]
    for b in backends:
        lines.append(f"| {b} | " + " | ".join(f"{f1[(c, b)]:.2f}" if (c, b) in f1 else "not run"
                                               for c in corpora) + " |")
    return "\n".join(lines) + "\n"
