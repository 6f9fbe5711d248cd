"""report.md, a self-contained report.html (with the transcript view), plots and the headline
table for papers, all from the aggregated report tables.

Both documents are rendered from one list of blocks, so they always say the same thing; a model
is named by its roster label wherever the roster gives one (the Models list maps labels to ids).
Plots use matplotlib's Agg canvas through `Figure` (not pyplot), so rendering leaves no
global backend state or open figures behind.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from sycobench.report.frame import SMALL_TRIPLETS
from sycobench.report.paper import write_headline
from sycobench.report.plots import (
    _MISSING, FORMATS, PLOTS, _fmt, _level_order, _missing, _several_scorers, _usable, render_plots,
)
from sycobench.report.scenarios import axis_words, side_label
from sycobench.report.transcripts import transcript_data, transcript_html

__all__ = ["render_report"]



@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: list[str]


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Image:
    file: str
    caption: str


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    fit: bool = False  # HTML: fit the page width (intervals under their value) instead of scrolling


@dataclass(frozen=True)
class Transcripts:
    """The interactive view in HTML; `note` stands in for it in Markdown."""

    html: str
    note: str


Block = Heading | Para | Bullets | Code | Image | Table | Transcripts
Column = tuple[str, Callable[[dict], str], bool]


def _fmt_ci(row: dict, col: str) -> str:
    lo, hi = row.get(f"{col}_lo"), row.get(f"{col}_hi")
    if _missing(lo) or _missing(hi):
        return _fmt(row.get(col))
    return f"{_fmt(row.get(col))} [{_fmt(lo)}, {_fmt(hi)}]"


def _fmt_p(x: object) -> str:
    return "<0.001" if not _missing(x) and float(x) < 0.0005 else _fmt(x)


def _usd(x: object) -> str:
    return _MISSING if _missing(x) else f"${float(x):.4f}"


def _errors_by_class(text: object) -> str:
    try:
        counts = json.loads(text) if isinstance(text, str) else {}
    except json.JSONDecodeError:
        return str(text)
    return ", ".join(f"{k}: {v}" for k, v in counts.items()) if isinstance(counts, dict) and counts else _MISSING


def _text(header: str, col: str) -> Column:
    return header, lambda r: _MISSING if _missing(r.get(col)) or r.get(col) == "" else str(r.get(col)), False


def _num(header: str, col: str, show: Callable[[object], str] = _fmt) -> Column:
    return header, lambda r: show(r.get(col)), True


def _ci(header: str, col: str) -> Column:
    return header, lambda r: _fmt_ci(r, col), True


SMALL_MARK = "†"
_SMALL_NOTE = (f"{SMALL_MARK} fewer than {SMALL_TRIPLETS} triplets: the interval and p-value rest on few "
               "scenarios; read them as rough.")


def _small(row: dict) -> bool:
    n = row.get("n_triplets")
    return not _missing(n) and int(n) < SMALL_TRIPLETS


def _triplets(header: str = "triplets") -> Column:
    return header, lambda r: _fmt(r.get("n_triplets")) + (f" {SMALL_MARK}" if _small(r) else ""), True


def _flagged(df: pl.DataFrame, table: Table) -> list[Block]:
    """The table, and the small-sample footnote when a row of it is marked."""
    marked = "n_triplets" in df.columns and bool((df["n_triplets"] < SMALL_TRIPLETS).any())
    return [table, Para(_SMALL_NOTE)] if marked else [table]


def _table(df: pl.DataFrame, columns: list[Column], *, fit: bool = False) -> Table:
    rows = [[get(row) for _, get, _ in columns] for row in df.iter_rows(named=True)]
    return Table([h for h, _, _ in columns], rows, [num for _, _, num in columns], fit)


def _keys(df: pl.DataFrame) -> list[Column]:
    several = "scenario" in df.columns and df["scenario"].n_unique() > 1
    return ([_text("scenario", "scenario")] if several else []) + [_text("model", "model_id")] + (
        [_text("scorer", "scorer")] if _several_scorers(df) else [])



_HOW_TO_READ = (
    "Every answer is scored from −1 (pro-{b}) to +1 (pro-{a}). The sycophancy index (SI) is half the "
    "difference between a model's stance when the {a} asks and when the {b} asks, averaged over triplets "
    "that differ only in who asks: a positive SI means the model moves toward whoever is asking, 0 means it does "
    "not, and a negative SI means it moves away. The paired uplifts split that movement into the {a} side "
    "({a} asks minus neutral) and the {b} side (neutral minus {b} asks); lean is the tilt toward one "
    "side whoever asks, and 'both sides affirmed' is the share of triplets in which the model sided with the "
    "{a} when the {a} asked and with the {b} when the {b} asked. The binned figures follow the "
    "original package: each answer falls in a bin at threshold τ = {threshold}, 'agree p' is the share of answers "
    "on the asker's side, and binned uplift subtracts the same model's neutral answers in that bin. Intervals on "
    "means are 95% studentized cluster-bootstrap intervals that resample whole triplets ({bootstrap} resamples, "
    "seed {seed}); intervals on proportions (stance shares, agree rates, both sides affirmed) are Wilson 95% "
    "intervals. The p-value tests SI ≠ 0 with a sign-flip permutation test. Rows resting on fewer than "
    f"{SMALL_TRIPLETS} triplets are marked {SMALL_MARK}."
)


def _parties_note(parties: dict | None) -> str:
    """With several scenarios, which party is A (+1) and which B (-1) in each."""
    if not parties or len(parties) < 2:
        return ""
    pairs = "; ".join(f"{name}: {who.a_name} / {who.b_name}" for name, who in parties.items())
    return f" Party A is the +1 end of each scenario's judge axis and party B the −1 end ({pairs})."


_TOTAL_LABELS = {"jobs": "jobs", "failed_jobs": "failed jobs", "calls": "target calls", "errors": "calls with errors",
                 "cost_target_usd": "target cost (USD)", "cost_judge_usd": "judge cost (USD)"}


def _meta_blocks(meta: dict) -> list[Block]:
    blocks: list[Block] = [Heading(1, str(meta.get("title") or "sycobench report")), Bullets([
        f"Created: {meta.get('created_at') or _MISSING}",
        f"Code version: {meta.get('code_version') or _MISSING}",
        f"Bin threshold τ: {_fmt(meta.get('threshold'))}",
        f"Bootstrap: {_fmt(meta.get('bootstrap'))} resamples, seed {_fmt(meta.get('seed'))}",
    ])]
    if meta.get("sources"):
        blocks += [Para("Sources:"), Bullets([str(s) for s in meta["sources"]])]
    if meta.get("labels"):
        blocks += [Para("Models (roster label: model id):"),
                   Bullets([f"{label}: {model}" for model, label in meta["labels"].items()])]
    totals = meta.get("totals") or {}
    if totals:
        rows = [[_TOTAL_LABELS.get(k, k.replace("_", " ")), _usd(v) if k.endswith("_usd") else _fmt(v)]
                for k, v in totals.items()]
        blocks += [Heading(2, "Totals"), Table(["quantity", "value"], rows, [False, True])]
    return blocks


_HEADLINE_LEGEND = (
    "SI: sycophancy index, with its 95% interval in brackets (as for uplift and lean); p: sign-flip p-value "
    "of SI ≠ 0; uplift A / uplift B: paired uplift on the {a} / {b} side; both sides: share of triplets "
    "with both sides affirmed; triplets / incompl.: complete and incomplete triplets; agree A / agree B: binned "
    "agree p when the {a} / {b} asks. The same table is written as headline.tex and headline.md."
)


def _headline_blocks(uplift: pl.DataFrame | None, plots: set[str], meta: dict) -> list[Block]:
    a, b = axis_words(meta.get("parties"))
    blocks: list[Block] = [Heading(2, "How to read this"), Para(_HOW_TO_READ.format(
        threshold=_fmt(meta.get("threshold")), bootstrap=_fmt(meta.get("bootstrap")), seed=_fmt(meta.get("seed")),
        a=a, b=b) + _parties_note(meta.get("parties")))]
    blocks.append(Heading(2, "Headline: sycophancy index"))
    if not _usable(uplift):
        return [*blocks, Para("No uplift table: nothing was scored.")]
    columns = [
        *_keys(uplift), _ci("SI", "sycophancy_index"), _num("p", "si_p_value", _fmt_p),
        _ci("uplift A", "uplift_a"), _ci("uplift B", "uplift_b"), _ci("lean", "lean"),
        _ci("both sides", "both_sides_affirmed"), _triplets(),
        _num("incompl.", "n_triplets_incomplete"), _num("agree A", "a_agree_p"),
        _num("agree B", "b_agree_p"),
    ]
    legend = _HEADLINE_LEGEND.format(a=a, b=b)
    if "si_split_half" in uplift.columns and uplift["si_split_half"].is_not_null().any():
        columns.append(_num("split-half", "si_split_half"))
        legend += " split-half: split-half reliability of SI (even vs odd samples)."
    blocks += [*_flagged(uplift, _table(uplift, columns, fit=True)), Para(legend)]
    if PLOTS["forest"] in plots:
        blocks.append(Image(PLOTS["forest"], "Sycophancy index per model with its 95% cluster-bootstrap interval."))
    blocks += [Heading(3, "Binned agreement and uplift (original package's definitions)"), _table(uplift, [
        *_keys(uplift), _num(f"{a} n", "a_n"), _ci(f"{a} agree p [95% CI]", "a_agree_p"),
        _num(f"{a} uplift", "a_uplift"), _num(f"{b} n", "b_n"),
        _ci(f"{b} agree p [95% CI]", "b_agree_p"), _num(f"{b} uplift", "b_uplift"),
    ])]
    return blocks


def _stance_blocks(mix: pl.DataFrame | None, plots: set[str], meta: dict) -> list[Block]:
    a, b = axis_words(meta.get("parties"))
    blocks: list[Block] = [Heading(2, "Stance mix")]
    if not _usable(mix):
        return [*blocks, Para("No stance-mix table.")]
    if PLOTS["stance_mix"] in plots:
        blocks.append(Image(PLOTS["stance_mix"], "Share of answers in each stance bin, by model and by who asks."))
    parties = meta.get("parties") or {}

    def asker(row: dict) -> str:
        side = row.get("side")
        name = side_label(side, row.get("scenario") or "rent", parties)
        return f"{name} asks" if side in ("a", "b") else ("all answers" if side == "all" else name)

    blocks += _flagged(mix, _table(mix, [
        *_keys(mix), ("who asks", asker, False), _triplets(), _num("n", "n"),
        _num("unscorable", "unscorable_n"), _num("mean score", "mean_score"), _ci(f"pro-{b} [95% CI]", "p_neg"),
        _ci("neutral [95% CI]", "p_neu"), _ci(f"pro-{a} [95% CI]", "p_pos"),
    ]))
    return blocks


def _compare_blocks(compare: pl.DataFrame | None) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Model comparison")]
    if not _usable(compare):
        return [*blocks, Para("Only one model: nothing to compare.")]
    return [*blocks, Para(
        "SI of each model minus the reference model's SI, on the triplets both completed. The interval resamples "
        "the same triplets for both models (paired bootstrap); an interval that excludes 0 marks a difference."
    ), *_flagged(compare, _table(compare, [*_keys(compare), _text("reference", "reference"),
                                           _triplets("shared triplets"), _ci("SI difference [95% CI]", "si_diff")]))]


def _factor_blocks(by_factor: pl.DataFrame | None, plots: set[str]) -> list[Block]:
    """A table per factor of each scenario (every factor and derived factor it declares)."""
    blocks: list[Block] = [Heading(2, "Factor breakdown")]
    if not _usable(by_factor):
        return [*blocks, Para("No factor breakdown.")]
    blocks.append(Para(
        "SI within each level of a scenario factor; n counts the triplets behind each figure. The p-value tests "
        "SI ≠ 0 in that level (sign-flip test); 'p (Holm)' adjusts it with Holm's method for the many levels "
        "tested at once, over every level of every factor of one model and scorer. Read a level as different "
        "from 0 only by the adjusted p-value."
    ))
    if PLOTS["amount"] in plots:
        blocks.append(Image(PLOTS["amount"], "Sycophancy index by the levels of each scenario's first numeric "
                                             "factor: one panel per model with 95% intervals (one heatmap beyond "
                                             "24 models)."))
    several = "scenario" in by_factor.columns and by_factor["scenario"].n_unique() > 1
    keys = ["scenario", "factor"] if "scenario" in by_factor.columns else ["factor"]
    for names, part in by_factor.group_by(keys, maintain_order=True):
        factor = names[-1]
        order = {level: i for i, level in enumerate(_level_order(part["level"]))}
        part = part.sort(pl.col("level").replace_strict(order, return_dtype=pl.Int64), maintain_order=True)
        title = f"{names[0]}: {factor}" if several else str(factor)
        blocks += [Heading(3, title), *_flagged(part, _table(part, [
            _text("level", "level"), *_keys(part), _triplets(), _ci("SI [95% CI]", "sycophancy_index"),
            _num("p", "si_p_value", _fmt_p), _num("p (Holm)", "si_p_holm", _fmt_p),
        ]))]
    return blocks


def _agreement_blocks(agreement: pl.DataFrame | None, plots: set[str]) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Judge agreement")]
    if not _usable(agreement):
        return [*blocks, Para("Only one scorer: no agreement to report.")]
    blocks.append(Para(
        "Agreement between two scorers on the answers both scored: Spearman's rank correlation, Krippendorff's α "
        "(interval level), the mean absolute difference, and quadratic-weighted Cohen's κ on the three stance bins."
    ))
    if PLOTS["agreement"] in plots:
        blocks.append(Image(PLOTS["agreement"], "Paired scores of two scorers; the diagonal is perfect agreement."))
    model = [_text("model", "model_id")] if "model_id" in agreement.columns else []
    return [*blocks, _table(agreement, [
        *model, _text("scorer A", "scorer_a"), _text("scorer B", "scorer_b"), _num("n", "n"), _num("Spearman", "spearman"),
        _num("Krippendorff α", "krippendorff_alpha"), _num("mean abs. difference", "mae"),
        _num("weighted κ", "weighted_kappa"),
    ])]


def _health_blocks(health: pl.DataFrame | None, jobs: pl.DataFrame | None) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Run health")]
    if _usable(jobs) and "status" in jobs.columns:
        counts = jobs.group_by("status", maintain_order=True).agg(n=pl.len())
        blocks.append(Para(f"{jobs.height} job(s): " + ", ".join(f"{n} {s}" for s, n in counts.iter_rows()) + "."))
        problems = jobs.filter(pl.col("status") != "ok")
        if problems.height:
            blocks += [Heading(3, "Jobs that did not finish cleanly"), _table(problems, [
                _text("job", "job"), _text("model", "model_id"), _text("status", "status"),
                _text("message", "message"), _text("overrides", "overrides"),
            ])]
    if not _usable(health):
        return [*blocks, Para("No call records: no health table.")]
    return [*blocks, Heading(3, "Calls and errors"), _table(health, [
        _text("model", "model_id"), _num("calls", "calls"), _num("errors", "errors"),
        _num("blocked", "blocked"), ("errors by class", lambda r: _errors_by_class(r.get("errors_by_class")), False),
        _num("unscorable rate", "unscorable_rate"), _num("cache hits", "cache_hits"),
    ]), Heading(3, "Tokens, cost and latency"), _table(health, [
        _text("model", "model_id"), _num("prompt tokens", "prompt_tokens"),
        _num("completion tokens", "completion_tokens"), _num("reasoning tokens", "reasoning_tokens"),
        _num("target cost (USD)", "cost_target_usd", _usd), _num("judge cost (USD)", "cost_judge_usd", _usd),
        _num("latency p50 (s)", "latency_p50_s"), _num("latency p95 (s)", "latency_p95_s"),
    ])]


def _validation_blocks(figures: pl.DataFrame | None) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Scorer validation")]
    if not _usable(figures):
        return [*blocks, Para("No validation figures for these scorers: run python -m sycobench.validate scorer=...")]
    return [*blocks, Para(
        "The latest figures of each scorer on the labelled validation answers of the scenarios it scored here "
        "(docs/validation.md); the held-out split was never used to tune a scorer."
    ), _table(figures, [
        _text("scorer", "scorer"), _text("scenario", "scenario"), _text("split", "split"), _num("n", "n"),
        _num("Spearman", "spearman"),
        _num("bin accuracy", "bin_accuracy"), _num("weighted κ", "weighted_kappa"),
        _num("mean signed error", "mean_signed_error"), _num("flip bin agreement", "flip_bin_agreement"),
        _text("validated", "validated_at"),
    ])]


def _build_blocks(tables: dict[str, pl.DataFrame], meta: dict, plots: set[str],
                  transcripts: list[Block] | None = None, sections: list[Block] | None = None) -> list[Block]:
    get = tables.get
    config = meta.get("config")
    smoke_test = [Para(f"Warning: {meta['smoke_test']}.")] if meta.get("smoke_test") else []
    return [
        *_meta_blocks(meta), *smoke_test, *_headline_blocks(get("uplift"), plots, meta),
        *_stance_blocks(get("stance_mix"), plots, meta), *(sections or []), *_compare_blocks(get("compare")),
        *_factor_blocks(get("by_factor"), plots), *_agreement_blocks(get("agreement"), plots),
        *_validation_blocks(get("scorer_validation")), *(transcripts or []),
        *_health_blocks(get("health"), get("jobs")),
        Heading(2, "Configuration"), Code(config) if config else Para("No configuration was recorded."),
    ]


_MD_SPECIAL = re.compile(r"([\\`*<>|])")


def _md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _to_markdown(blocks: list[Block]) -> str:
    out = []
    for block in blocks:
        match block:
            case Heading(level, text):
                out.append(f"{'#' * level} {_md(text)}")
            case Para(text):
                out.append(_md(text))
            case Bullets(items):
                out.append("\n".join(f"- {_md(item)}" for item in items))
            case Code(text):
                fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
                out.append(f"{fence}\n{text.rstrip()}\n{fence}")
            case Image(file, caption):
                out.append(f"![{_md(caption)}]({file})")
            case Transcripts(_, note):
                out.append(_md(note))
            case Table(headers, rows, numeric, _):
                lines = ["| " + " | ".join(map(_md, headers)) + " |",
                         "|" + "|".join("---:" if num else "---" for num in numeric) + "|"]
                lines += ["| " + " | ".join(map(_md, row)) + " |" for row in rows]
                out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 2rem auto;
       max-width: 72rem; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #eee; }
.scroll { overflow-x: auto; margin: .8rem 0; }
table { border-collapse: collapse; font-size: .88rem; }
th, td { border: 1px solid #ddd; padding: .3rem .55rem; vertical-align: top; }
th { background: #f3f4f6; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums;
       white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafafa; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .85rem; color: #555; }
.fit table { width: 100%; font-size: .8rem; } .fit th { font-size: .78rem; vertical-align: bottom; }
.fit th, .fit td { padding: .25rem .35rem; } .fit td:not(.num) { overflow-wrap: anywhere; max-width: 14rem; }
.fit .ci { color: #555; font-size: .72rem; }
pre { background: #f6f8fa; padding: .8rem; overflow-x: auto; font-size: .85rem; }
"""


_INTERVAL = re.compile(r"^(\S+) (\[.*\])$")


def _fit_cell(text: str) -> str:
    """A value with its interval on a second, smaller line, so wide tables fit the page."""
    match = _INTERVAL.match(text)
    if not match:
        return html.escape(text)
    return f'{html.escape(match[1])}<br><span class="ci">{html.escape(match[2])}</span>'


def _to_html(blocks: list[Block], *, title: str, images: dict[str, bytes]) -> str:
    e = html.escape
    out = []
    for block in blocks:
        match block:
            case Heading(level, text):
                out.append(f"<h{level}>{e(text)}</h{level}>")
            case Para(text):
                out.append(f"<p>{e(text)}</p>")
            case Bullets(items):
                out.append("<ul>" + "".join(f"<li>{e(item)}</li>" for item in items) + "</ul>")
            case Code(text):
                out.append(f"<pre><code>{e(text.rstrip())}</code></pre>")
            case Image(file, caption) if file in images:
                data = base64.b64encode(images[file]).decode("ascii")
                out.append(f'<figure><img src="data:image/png;base64,{data}" alt="{e(caption)}">'
                           f"<figcaption>{e(caption)}</figcaption></figure>")
            case Transcripts(view, _):
                out.append(view)
            case Table(headers, rows, numeric, fit):
                head = "".join(f"<th>{e(h)}</th>" for h in headers)
                cell = _fit_cell if fit else e
                body = "".join("<tr>" + "".join(f'<td class="num">{cell(c)}</td>' if num else f"<td>{e(c)}</td>"
                                                 for c, num in zip(row, numeric)) + "</tr>" for row in rows)
                table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
                out.append(f'<div class="fit">{table}</div>' if fit else f'<div class="scroll">{table}</div>')
    body = "\n".join(out)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{e(title)}</title>\n'
            f"<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def _relabel(tables: dict[str, pl.DataFrame], labels: dict[str, str]) -> dict[str, pl.DataFrame]:
    """Model ids shown as their roster labels (the tables on disk keep the ids)."""
    if not labels:
        return tables
    return {name: t.with_columns(pl.col(c).replace(labels) for c in ("model_id", "reference")
                                 if c in t.columns and t.schema[c] == pl.String)
            for name, t in tables.items()}


def _transcript_blocks(results: pl.DataFrame | None, meta: dict, threshold: float,
                       text: Callable[[pl.LazyFrame], pl.LazyFrame] | None,
                       levels: pl.DataFrame | None) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Transcripts")]
    if not _usable(results):
        return [*blocks, Para("No scored answers to show.")]
    data = transcript_data(results, threshold=threshold, labels=meta.get("labels"), seed=int(meta.get("seed") or 0),
                           text=text, levels=levels, parties=meta.get("parties"))
    a, b = axis_words(meta.get("parties"))
    note = (f"Every triplet's {a}, {b} and neutral answers, side by side, with their scores, are in the "
            "transcript view of report.html; every answer, with its prompt and the judge's reply, is in "
            "results.parquet.")
    intro = Para(f"Each row is one triplet: the answers when the {a} asks, when the {b} asks and when "
                 "neither does, with each answer's score and bin. Filter by scenario, model, scorer, factor level or "
                 "bin; sort by the triplet's contribution to SI ((A − B) / 2 over the model's triplets in that "
                 "scenario) or by |A − B| to read the most sycophantic answers first.")
    return [*blocks, intro, Transcripts(transcript_html(data), note)]


def render_report(tables: dict[str, pl.DataFrame], out_dir: Path, *, meta: dict,
                  results: pl.DataFrame | None = None,
                  text: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None,
                  levels: pl.DataFrame | None = None,
                  sections: Callable[[dict[str, pl.DataFrame], Path, dict], list[Block]] | None = None) -> list[Path]:
    """Write the plots (PNG, SVG, PDF), headline.tex/.md, report.md and report.html into out_dir;
    `results` (one row per scored answer, with its text, or without it and `text` to add it to the rows
    shown) feeds the transcript view; `sections(tables, out_dir, meta)` adds blocks of its own (and their
    images) after the stance mix. Returns the files written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    threshold = float(meta.get("threshold") or 0.33)
    tables = _relabel(tables, meta.get("labels") or {})
    plots = render_plots(tables, out_dir, threshold=threshold, parties=meta.get("parties"))
    papers = write_headline(tables["uplift"], out_dir, parties=meta.get("parties")) if _usable(tables.get("uplift")) else []
    transcripts = _transcript_blocks(results, meta, threshold, text, levels) if results is not None else None
    extra = sections(tables, out_dir, meta) if sections is not None else []
    plots += [out_dir / b.file for b in extra if isinstance(b, Image) and (out_dir / b.file).exists()]
    blocks = _build_blocks(tables, meta, {p.name for p in plots}, transcripts, extra)
    md_path, html_path = out_dir / "report.md", out_dir / "report.html"
    md_path.write_text(_to_markdown(blocks), encoding="utf-8")
    images = {p.name: p.read_bytes() for p in plots}
    html_path.write_text(_to_html(blocks, title=str(meta.get("title") or "sycobench report"), images=images),
                         encoding="utf-8")
    vectors = [p.with_suffix(f".{fmt}") for p in plots for fmt in FORMATS if fmt != "png"]
    return [*plots, *vectors, *papers, md_path, html_path]
