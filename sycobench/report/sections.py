"""The report's sections as blocks, in reading order: the headline first, then how to read it, the
other tables, the transcripts, run health and the report's own details.

Tables arrive with models already named by their roster labels (render._relabel); `meta["labels"]`
maps ids to those labels, so a headline row can link to its model's transcripts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import quote, urlencode

import polars as pl

from sycobench.report.blocks import Block, Bullets, Cell, Code, Heading, Image, Note, Para, Table, anchor
from sycobench.report.frame import SMALL_TRIPLETS
from sycobench.report.plots import (_MISSING, MIN_INTERVAL_TRIPLETS, PLOTS, _fmt, _level_order, _missing,
                                    _several_scorers, _usable)
from sycobench.report.scenarios import axis_words, side_label

__all__ = ["SMALL_MARK", "body_blocks", "headline_blocks"]

Column = tuple[str, Callable[[dict], "str | Cell"], bool]
SMALL_MARK = "†"
_SMALL_NOTE = (f"{SMALL_MARK} fewer than {SMALL_TRIPLETS} triplets: the interval and p-value rest on few "
               "scenarios; read them as rough.")


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


def _small(row: dict) -> bool:
    n = row.get("n_triplets")
    return not _missing(n) and int(n) < SMALL_TRIPLETS


def _triplets(header: str = "triplets") -> Column:
    return header, lambda r: _fmt(r.get("n_triplets")) + (f" {SMALL_MARK}" if _small(r) else ""), True


def _marked(df: pl.DataFrame) -> bool:
    return "n_triplets" in df.columns and bool((df["n_triplets"] < SMALL_TRIPLETS).any())


def _flagged(df: pl.DataFrame, table: Table) -> list[Block]:
    """The table, and the small-sample footnote when a row of it is marked."""
    return [table, Para(_SMALL_NOTE)] if _marked(df) else [table]


def _table(df: pl.DataFrame, columns: list[Column], *, id: str | None = None, caption: str | None = None) -> Table:
    rows = [[get(row) for _, get, _ in columns] for row in df.iter_rows(named=True)]
    return Table([h for h, _, _ in columns], rows, [num for _, _, num in columns], id=id, caption=caption)


def _keys(df: pl.DataFrame) -> list[Column]:
    several = "scenario" in df.columns and df["scenario"].n_unique() > 1
    return ([_text("scenario", "scenario")] if several else []) + [_text("model", "model_id")] + (
        [_text("scorer", "scorer")] if _several_scorers(df) else [])


# -- the headline ------------------------------------------------------------------------------------

_LEGEND = (
    "SI: sycophancy index (positive: the model moves toward whoever asks), with its 95% interval; p: sign-flip "
    "p-value of SI ≠ 0; uplift: how far the answers move toward each party when that party asks, against "
    "the neutral answers; lean: the tilt toward one side whoever asks; both sides: share of triplets with both "
    "sides affirmed; triplets: complete triplets behind each row. A model's name opens its transcripts. "
    "Each table is sorted by SI; the section 'How to read this' has the definitions. The same table is written "
    "as headline.tex and headline.md."
)
_UNVALIDATED = ("These scorers are not validated for these scenarios (see Scorer validation): their figures may "
                "not measure the answers' stance. They are kept apart from the validated rows above.")


def transcripts_href(scenario: str | None, model: str, scorer: str | None) -> str:
    """A link that opens the transcript view filtered to one model (and scenario and scorer)."""
    query = {k: v for k, v in (("scenario", scenario), ("model", model), ("scorer", scorer)) if v}
    return "#transcripts?" + urlencode(query, quote_via=quote)


def _groups(uplift: pl.DataFrame) -> list[tuple[dict, pl.DataFrame]]:
    """The headline's tables: one per scenario and scorer (judges never share a ranking with other
    scorers), validated scorers first; each sorted by SI, largest first."""
    keys = [c for c in ("unvalidated", "scenario", "scorer") if c in uplift.columns]
    frame = uplift.with_columns(pl.col("unvalidated").fill_null(False)) if "unvalidated" in keys else uplift
    parts = frame.partition_by(keys, maintain_order=True, as_dict=True) if keys else {(): frame}
    ordered = sorted(parts.items(), key=lambda kv: bool(dict(zip(keys, kv[0])).get("unvalidated")))  # stable
    return [(dict(zip(keys, key)), part.sort("sycophancy_index", descending=True, nulls_last=True,
                                              maintain_order=True)) for key, part in ordered]


def _headline_table(part: pl.DataFrame, key: dict, meta: dict, *, id: str) -> Table:
    parties = meta.get("parties") or {}
    scenario = key.get("scenario")
    a, b = (side_label("a", scenario, parties), side_label("b", scenario, parties)) if scenario else axis_words(parties)
    ids = {label: model for model, label in (meta.get("labels") or {}).items()}

    def model(row: dict) -> Cell:
        label = str(row.get("model_id"))
        return Cell(label, transcripts_href(scenario, ids.get(label, label), key.get("scorer") or row.get("scorer")))

    columns: list[Column] = [
        ("model", model, False), _ci("SI", "sycophancy_index"), _num("p", "si_p_value", _fmt_p),
        _ci(f"uplift {a}", "uplift_a"), _ci(f"uplift {b}", "uplift_b"), _ci("lean", "lean"),
        _ci("both sides", "both_sides_affirmed"), _triplets(),
    ]
    if "n_triplets_incomplete" in part.columns and part["n_triplets_incomplete"].fill_null(0).sum() > 0:
        columns.append(_num("incomplete", "n_triplets_incomplete"))
    if "si_split_half" in part.columns and part["si_split_half"].is_not_null().any():
        columns.append(_num("split-half", "si_split_half"))
    return _table(part, columns, id=id)


def _group_title(key: dict, meta: dict, several: set[str]) -> str:
    parts = []
    if "scenario" in several:
        who = (meta.get("parties") or {}).get(key["scenario"])
        parts.append(f"{key['scenario']} ({who.a_name} / {who.b_name})" if who else str(key["scenario"]))
    if "scorer" in several:
        parts.append(f"scorer {key['scorer']}")
    return " · ".join(parts)


def headline_blocks(uplift: pl.DataFrame | None, plots: set[str], meta: dict) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Headline: sycophancy index", "headline")]
    if not _usable(uplift):
        return [*blocks, Para("No uplift table: nothing was scored.")]
    groups = _groups(uplift)
    several = {c for c in ("scenario", "scorer") if c in uplift.columns and uplift[c].n_unique() > 1}
    apart = False
    for i, (key, part) in enumerate(groups):
        if key.get("unvalidated") and not apart:
            apart = True
            blocks += [Heading(3, "Not validated", "headline-not-validated"), Note(_UNVALIDATED, "warn")]
        title = _group_title(key, meta, several)
        if title:
            blocks.append(Heading(3, title, f"headline-{anchor(title)}"))
        blocks.append(_headline_table(part, key, meta, id="headline-table" if i == 0 else f"headline-table-{i}"))
    if _marked(uplift):
        blocks.append(Para(_SMALL_NOTE))
    blocks.append(Para(_LEGEND))
    if PLOTS["forest"] in plots:
        blocks.append(Image(PLOTS["forest"], "Sycophancy index per model with its 95% cluster-bootstrap interval: one "
                                             "panel per scenario and scorer, models sorted by SI."))
    return blocks


# -- the other sections --------------------------------------------------------------------------------

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
    "means are 95% intervals over clusters of triplets (triplets that share an answer form one cluster): a t "
    "interval below 20 clusters, else a studentized cluster bootstrap ({bootstrap} resamples, seed {seed}); "
    "intervals on proportions (stance shares, agree rates, both sides affirmed) are Wilson 95% intervals, widened "
    "by the design effect when a prompt has several samples. The p-value tests SI ≠ 0 with a sign-flip permutation test. Rows resting on fewer than "
    f"{SMALL_TRIPLETS} triplets are marked {SMALL_MARK}; plots mark their intervals too."
)


def _parties_note(parties: dict | None) -> str:
    """With several scenarios, which party is A (+1) and which B (-1) in each."""
    if not parties or len(parties) < 2:
        return ""
    pairs = "; ".join(f"{name}: {who.a_name} / {who.b_name}" for name, who in parties.items())
    return f" Party A is the +1 end of each scenario's judge axis and party B the −1 end ({pairs})."


def _how_to_read(meta: dict) -> list[Block]:
    a, b = axis_words(meta.get("parties"))
    return [Heading(2, "How to read this", "how-to-read"), Para(_HOW_TO_READ.format(
        threshold=_fmt(meta.get("threshold")), bootstrap=_fmt(meta.get("bootstrap")), seed=_fmt(meta.get("seed")),
        a=a, b=b) + _parties_note(meta.get("parties")))]


def _binned_blocks(uplift: pl.DataFrame | None, meta: dict) -> list[Block]:
    if not _usable(uplift):
        return []
    a, b = axis_words(meta.get("parties"))
    return [Heading(2, "Binned agreement and uplift", "binned"), Para(
        "The original package's figures: the share of answers on the asker's side (agree p, Wilson 95% interval) "
        "and the binned uplift over the same model's neutral answers."), _table(uplift, [
            *_keys(uplift), _num(f"{a} n", "a_n"), _ci(f"{a} agree p [95% CI]", "a_agree_p"),
            _num(f"{a} uplift", "a_uplift"), _num(f"{b} n", "b_n"),
            _ci(f"{b} agree p [95% CI]", "b_agree_p"), _num(f"{b} uplift", "b_uplift"),
        ], id="binned-table")]


def _stance_blocks(mix: pl.DataFrame | None, plots: set[str], meta: dict) -> list[Block]:
    a, b = axis_words(meta.get("parties"))
    blocks: list[Block] = [Heading(2, "Stance mix", "stance-mix")]
    if not _usable(mix):
        return [*blocks, Para("No stance-mix table.")]
    if PLOTS["stance_mix"] in plots:
        blocks.append(Image(PLOTS["stance_mix"], "Share of answers in each stance bin, by model and by who asks."))
    parties = meta.get("parties") or {}

    def asker(row: dict) -> str:
        side = row.get("side")
        name = side_label(side, row.get("scenario") or "rent", parties)
        return f"{name} asks" if side in ("a", "b") else ("all answers" if side == "all" else name)

    return [*blocks, *_flagged(mix, _table(mix, [
        *_keys(mix), ("who asks", asker, False), _triplets(), _num("n", "n"),
        _num("unscorable", "unscorable_n"), _num("mean score", "mean_score"), _ci(f"pro-{b} [95% CI]", "p_neg"),
        _ci("neutral [95% CI]", "p_neu"), _ci(f"pro-{a} [95% CI]", "p_pos"),
    ], id="stance-mix-table"))]


def _compare_blocks(compare: pl.DataFrame | None) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Model comparison", "comparison")]
    if not _usable(compare):
        return [*blocks, Para("Only one model: nothing to compare.")]
    return [*blocks, Para(
        "SI of each model minus the reference model's SI, on the triplets both completed. The interval resamples "
        "the same triplets for both models (paired bootstrap); an interval that excludes 0 marks a difference."
    ), *_flagged(compare, _table(compare, [*_keys(compare), _text("reference", "reference"),
                                           _triplets("shared triplets"), _ci("SI difference [95% CI]", "si_diff")],
                                 id="comparison-table"))]


def _factor_blocks(by_factor: pl.DataFrame | None, plots: set[str]) -> list[Block]:
    """A table per factor of each scenario (every factor and derived factor it declares)."""
    blocks: list[Block] = [Heading(2, "Factor breakdown", "factors")]
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
                                             "factor: one panel per model with 95% intervals; an interval on fewer "
                                             f"than {MIN_INTERVAL_TRIPLETS} triplets is not drawn (hollow marker), and n is shown. One "
                                             "heatmap beyond 24 models."))
    several = "scenario" in by_factor.columns and by_factor["scenario"].n_unique() > 1
    keys = ["scenario", "factor"] if "scenario" in by_factor.columns else ["factor"]
    for names, part in by_factor.group_by(keys, maintain_order=True):
        factor = names[-1]
        order = {level: i for i, level in enumerate(_level_order(part["level"]))}
        part = part.sort(pl.col("level").replace_strict(order, return_dtype=pl.Int64), maintain_order=True)
        title = f"{names[0]}: {factor}" if several else str(factor)
        blocks += [Heading(3, title, f"factor-{anchor(title)}"), *_flagged(part, _table(part, [
            _text("level", "level"), *_keys(part), _triplets(), _ci("SI [95% CI]", "sycophancy_index"),
            _num("p", "si_p_value", _fmt_p), _num("p (Holm)", "si_p_holm", _fmt_p),
        ]))]
    return blocks


def _agreement_blocks(agreement: pl.DataFrame | None, plots: set[str]) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Judge agreement", "agreement")]
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
    ], id="agreement-table")]


def _labeller_blocks(people: pl.DataFrame | None, alpha: pl.DataFrame | None) -> list[Block]:
    """People's labels (python -m sycobench.label): α among them, and each person against each scorer."""
    if not _usable(people) and not _usable(alpha):
        return []
    blocks: list[Block] = [Heading(2, "People's labels", "labellers")]
    several = [_text("scenario", "scenario")] if any(
        _usable(t) and "scenario" in t.columns and t["scenario"].n_unique() > 1 for t in (people, alpha)) else []
    if _usable(alpha):
        blocks += [Para("Agreement among the people who labelled answers: Krippendorff's α (interval level) over the "
                        "answers at least two of them labelled."), _table(alpha, [
            *several, _num("people", "labellers"), _text("who", "people"), _num("answers", "n_answers"),
            _num("labels", "n_labels"), _num("Krippendorff α", "krippendorff_alpha")], id="labeller-alpha-table")]
    if _usable(people):
        blocks += [Para("Each person against each automatic scorer, on the answers both scored: Spearman's rank "
                        "correlation, the share in the same stance bin, quadratic-weighted κ on the three bins, and "
                        "the mean signed difference (scorer − person)."), _table(people, [
            *several, _text("person", "labeller"), _text("scorer", "scorer"), _num("labelled", "n_labelled"),
            _num("n", "n"), _num("Spearman", "spearman"), _num("bin accuracy", "bin_accuracy"),
            _num("weighted κ", "weighted_kappa"), _num("mean signed difference", "mean_signed_error"),
            _num("unscorable", "n_unscorable")], id="labellers-table")]
    return blocks


def _validation_blocks(figures: pl.DataFrame | None) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Scorer validation", "validation")]
    if not _usable(figures):
        return [*blocks, Para("No validation figures for these scorers: run python -m sycobench.validate scorer=...")]
    wanted = [("scorer", "scorer", False), ("scenario", "scenario", False), ("split", "split", False), ("n", "n", True),
              ("Spearman", "spearman", True), ("bin accuracy", "bin_accuracy", True),
              ("weighted κ", "weighted_kappa", True), ("mean signed error", "mean_signed_error", True),
              ("flip bin agreement", "flip_bin_agreement", True), ("validated", "validated_at", False)]
    columns = [(_num(h, c) if num else _text(h, c)) for h, c, num in wanted if c in figures.columns]
    return [*blocks, Para(
        "The latest figures of each scorer on the labelled validation answers of the scenarios it scored here "
        "(docs/validation.md); the held-out split was never used to tune a scorer."
    ), _table(figures, columns, id="validation-table")]


def _health_blocks(health: pl.DataFrame | None, jobs: pl.DataFrame | None) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Run health", "health")]
    if _usable(jobs) and "status" in jobs.columns:
        counts = jobs.group_by("status", maintain_order=True).agg(n=pl.len())
        blocks.append(Para(f"{jobs.height} job(s): " + ", ".join(f"{n} {s}" for s, n in counts.iter_rows()) + "."))
        problems = jobs.filter(pl.col("status") != "ok")
        if problems.height:
            blocks += [Heading(3, "Jobs that did not finish cleanly", "health-jobs"), _table(problems, [
                _text("job", "job"), _text("model", "model_id"), _text("status", "status"),
                _text("message", "message"), _text("overrides", "overrides"),
            ])]
    if not _usable(health):
        return [*blocks, Para("No call records: no health table.")]
    get = health.columns.__contains__
    calls = [_num("target calls", "target_calls") if get("target_calls") else _num("calls", "calls"),
             *([_num("judge calls", "judge_calls")] if get("judge_calls") else []),
             _num("errors", "errors"), *([_num("judge errors", "judge_errors")] if get("judge_errors") else []),
             _num("blocked", "blocked")]
    latency = [_num("latency p50 (s)", "latency_p50_s"), _num("latency p95 (s)", "latency_p95_s"),
               *([_num("rate-limit wait p50 (s)", "queued_p50_s"), _num("wait p95 (s)", "queued_p95_s")]
                 if get("queued_p50_s") else []),
               *([_num("judge latency p50 (s)", "judge_latency_p50_s")] if get("judge_latency_p50_s") else [])]
    return [*blocks, Heading(3, "Calls and errors", "health-calls"), _table(health, [
        _text("model", "model_id"), *calls,
        ("errors by class", lambda r: _errors_by_class(r.get("errors_by_class")), False),
        _num("unscorable rate", "unscorable_rate"), _num("cache hits", "cache_hits"),
    ]), Heading(3, "Tokens and cost", "health-cost"), _table(health, [
        _text("model", "model_id"), _num("prompt tokens", "prompt_tokens"),
        _num("completion tokens", "completion_tokens"), _num("reasoning tokens", "reasoning_tokens"),
        *([_num("judge tokens", "judge_tokens")] if get("judge_tokens") else []),
        _num("target cost (USD)", "cost_target_usd", _usd), _num("judge cost (USD)", "cost_judge_usd", _usd),
    ]), Heading(3, "Latency", "health-latency"), Para(
        "Each request's own time, apart from the time it waited for the rate limit (cache hits left out)."),
        _table(health, [_text("model", "model_id"), *latency])]


_TOTAL_LABELS = {"jobs": "jobs", "failed_jobs": "failed jobs", "calls": "target calls", "errors": "calls with errors",
                 "cost_target_usd": "target cost (USD)", "cost_judge_usd": "judge cost (USD)"}


def _about_blocks(meta: dict) -> list[Block]:
    blocks: list[Block] = [Heading(2, "About this report", "about"), Bullets([
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
        blocks += [Heading(3, "Totals", "totals"), Table(["quantity", "value"], rows, [False, True], id="totals-table")]
    return blocks


def body_blocks(tables: dict[str, pl.DataFrame], meta: dict, plots: set[str],
                transcripts: list[Block] | None = None) -> list[Block]:
    """Every section after the headline and the contents, in reading order."""
    get = tables.get
    config = meta.get("config")
    return [
        *_how_to_read(meta), *_binned_blocks(get("uplift"), meta), *_stance_blocks(get("stance_mix"), plots, meta),
        *_compare_blocks(get("compare")), *_factor_blocks(get("by_factor"), plots),
        *_agreement_blocks(get("agreement"), plots), *_labeller_blocks(get("labellers"), get("labeller_alpha")),
        *_validation_blocks(get("scorer_validation")),
        *(transcripts or []), *_health_blocks(get("health"), get("jobs")), *_about_blocks(meta),
        Heading(2, "Configuration", "configuration"),
        Code(config) if config else Para("No configuration was recorded."),
    ]
