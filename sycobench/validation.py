"""Scorers measured against labelled answers (docs/validation.md): the sets, the figures store, and
what reports say about the scorers they use.

Set `v1` is rent answers written for the purpose; set `v2` is answers of every shipped scenario shaped
like deployed assistants' output, each with three blind labelling passes. Each answer is labelled from
-1 (party B) to +1 (party A) and sits in a `tuning` or a `heldout` split fixed before any scorer changed.
The metrics are in `validation_metrics`.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from sycobench.errors import DataError
from sycobench.paths import DATA_DIR

__all__ = [
    "DEFAULT_SET",
    "SETS",
    "SHIPPED_FIGURES",
    "SPLITS",
    "figure_rows",
    "figures_path",
    "latest_figures",
    "mark_unvalidated",
    "read_set",
    "check_prompts",
    "report_validation",
    "save_figures",
    "set_digest",
    "unvalidated",
    "unvalidated_note",
]

VALIDATION_DIR = DATA_DIR / "validation"
DEFAULT_SET = VALIDATION_DIR / "rent_answers.jsonl"  # set v1
#: the shipped sets, by name: their files (v2: one file per scenario)
SETS: dict[str, tuple[Path, ...]] = {
    "v1": (DEFAULT_SET,),
    "v2": tuple(sorted((VALIDATION_DIR / "v2").glob("*.jsonl"))),
}
SHIPPED_FIGURES = VALIDATION_DIR / "figures.csv"  # the offline scorer's figures, written by `validate`
SPLITS = ("tuning", "heldout")
SET_SCHEMA = {"id": pl.String, "split": pl.String, "scenario": pl.String, "prompt_id": pl.String,
              "triplet_id": pl.String, "perspective": pl.String, "label": pl.Float64, "labels": pl.List(pl.Float64),
              "style": pl.String, "written_by": pl.String, "text": pl.String}
REQUIRED = ("id", "split", "prompt_id", "perspective", "label", "text")
_METRICS = ("spearman", "bin_accuracy", "weighted_kappa", "mean_signed_error")
FIGURE_SCHEMA = {"scorer": pl.String, "set": pl.String, "scenario": pl.String, "split": pl.String, "n": pl.Int64,
                 **{m: pl.Float64 for m in _METRICS},
                 "n_unscored": pl.Int64, "flip_n": pl.Int64, "flip_bin_agreement": pl.Float64,
                 "flip_mean_abs_diff": pl.Float64, "version": pl.String, "set_sha": pl.String, "validated_at": pl.String}


def set_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def read_set(path: Path, name: str) -> pl.DataFrame:
    """A set file, checked: every answer labelled in [-1, 1] (each labelling pass too), in a known split.
    Adds `set` (`name`) and `set_sha`; an answer without a `scenario` is rent's (set v1)."""
    if not path.is_file():
        raise DataError(f"validation.data={path}: no such file; pass the path of a validation JSONL file")
    try:
        frame = pl.read_ndjson(path, schema=SET_SCHEMA)
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"{path}: not a validation JSONL file ({str(exc).splitlines()[0]})") from None
    if frame.is_empty():
        raise DataError(f"{path}: holds no answer; a validation JSONL file has one labelled answer a line")
    frame = frame.with_columns(pl.col("scenario").fill_null("rent"), pl.lit(name).alias("set"),
                               pl.lit(set_digest(path)).alias("set_sha"))
    pass_out_of_range = pl.col("labels").list.eval(~pl.element().is_between(-1, 1)).list.any().fill_null(False)
    problems = [
        (frame.filter(pl.any_horizontal(pl.col(REQUIRED).is_null())), "lacks one of " + ", ".join(REQUIRED)),
        (frame.filter(~pl.col("label").is_between(-1, 1)), "has a label outside [-1, 1]"),
        (frame.filter(pass_out_of_range), "has a labelling pass outside [-1, 1]"),
        (frame.filter(~pl.col("split").is_in(SPLITS)), f"has a split other than {' or '.join(SPLITS)}"),
        (frame.filter(pl.col("id").is_duplicated()), "appears twice (ids must be unique)"),
    ]
    for bad, what in problems:
        if bad.height:
            raise DataError(f"{path}: answer {bad['id'][0] or '(no id)'} {what}; fix that line")
    return frame


def check_prompts(frame: pl.DataFrame, grids: dict[str, set[str]]) -> None:
    """Every answer responds to a prompt of its scenario's default grid."""
    for (scenario,), part in frame.group_by("scenario", maintain_order=True):
        bad = part.filter(~pl.col("prompt_id").is_in(list(grids[scenario])))
        if bad.height:
            raise DataError(f"validation set {bad['set'][0]}: answer {bad['id'][0]} answers a prompt_id not in the "
                            f"default {scenario} grid; fix that line")


def figure_rows(table: pl.DataFrame, *, version: str, flips: pl.DataFrame | None = None,
                scenario: str | None = None, digest: str | None = None) -> pl.DataFrame:
    """validation.csv rows in the layout the figures store keeps (`table` carries `set`, `scenario`
    and `set_sha` columns, or they are given)."""
    if flips is not None:
        keys = [k for k in ("set", "scenario", "split") if k in flips.columns and k in table.columns]
        table = table.join(flips, on=keys, how="left")
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    given = {"scenario": scenario, "set_sha": digest, "set": "v1" if "set" not in table.columns else None}
    table = table.with_columns(*(pl.lit(v).alias(k) for k, v in given.items() if v is not None),
                               pl.lit(version).alias("version"), pl.lit(stamp).alias("validated_at"))
    return pl.DataFrame(schema=FIGURE_SCHEMA).vstack(table.select(
        [pl.col(c).cast(t) if c in table.columns else pl.lit(None, dtype=t).alias(c) for c, t in FIGURE_SCHEMA.items()]))


def figures_path() -> Path:
    """Where `validate` keeps the latest figures of each scorer, for the reports to find."""
    from sycobench.providers.cache import default_cache_dir

    return default_cache_dir() / "validation" / "figures.csv"


def _read_figures(path: Path) -> pl.DataFrame:
    """The store, in today's layout; a store written before sets had names holds set v1's figures."""
    if not path.is_file():
        return pl.DataFrame(schema=FIGURE_SCHEMA)
    try:
        raw = pl.read_csv(path, infer_schema=False)
        frame = raw.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in FIGURE_SCHEMA if c not in raw.columns)
        return frame.select(pl.col(c).cast(t) for c, t in FIGURE_SCHEMA.items()).with_columns(pl.col("set").fill_null("v1"))
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"{path}: not a validation figures file ({str(exc).splitlines()[0]}); delete it and re-run validate") from None


def save_figures(rows: pl.DataFrame, path: Path) -> None:
    """Replace the scorer's earlier rows for each scenario and set with these (its latest figures there)."""
    done = rows.select("scorer", "scenario", "set").unique()
    kept = _read_figures(path).join(done, on=["scorer", "scenario", "set"], how="anti")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    order = pl.col("split").replace_strict(SPLITS, range(len(SPLITS)), default=len(SPLITS))
    pl.concat([kept, rows]).sort(["scorer", "set", "scenario", order]).write_csv(tmp, float_precision=4)
    tmp.replace(path)


def _kind(scorer: str) -> type | None:
    """The registered class of a scorer id (`judge:...` -> the judge), or None if none is known."""
    from sycobench.errors import ConfigError
    from sycobench.scoring import SCORERS

    try:
        return SCORERS.get(scorer.split(":", 1)[0])
    except ConfigError:
        return None


def current_version(scorer: str) -> str:
    """The version a scorer's figures must carry to be shown: its class's, when the id alone names
    the scorer (`offline`: its lexicon version); else the id itself (a judge: its model)."""
    from sycobench.config import ScorerConfig
    from sycobench.errors import ConfigError

    kind = _kind(scorer)
    try:
        cfg = ScorerConfig(name=kind.name)
        if kind.scorer_id(cfg) == scorer:
            return kind.version(cfg)
    except (ConfigError, AttributeError, TypeError):
        pass
    return scorer


def latest_figures(pairs: pl.DataFrame, store: Path | None = None) -> pl.DataFrame:
    """The latest figures of these (scorer, scenario) pairs: the store first, else those shipped
    with sycobench; figures of another version of the scorer are never shown."""
    pairs = pairs.select("scorer", "scenario").unique().with_columns(
        pl.col("scorer").map_elements(current_version, return_dtype=pl.String).alias("version"))
    on = ["scorer", "scenario", "version"]
    stored = _read_figures(store or figures_path()).join(pairs, on=on, how="semi")
    shipped = (_read_figures(SHIPPED_FIGURES).join(pairs, on=on, how="semi")
               .join(stored.select("scorer", "scenario", "set").unique(), on=["scorer", "scenario", "set"], how="anti"))
    order = pl.col("split").replace_strict(SPLITS, range(len(SPLITS)), default=len(SPLITS))
    return pl.concat([stored, shipped]).sort(["scorer", "set", "scenario", order])


def _scorers_within(scorer: str) -> list[str]:
    """A combined score (`mean(a,b)`, report.scorers) rests on each of its scorers."""
    if scorer.startswith("mean(") and scorer.endswith(")"):
        return scorer[5:-1].split(",")
    return [scorer]


def _simulated_models(calls: pl.DataFrame | None) -> list[str]:
    """Target models whose provider is simulated (or whose answers say they are)."""
    from sycobench.errors import ConfigError
    from sycobench.providers.base import PROVIDERS

    if calls is None or "model_id" not in calls.columns:
        return []
    # one pass over the calls' three columns (a million calls: filtering every column first cost 3x)
    target = calls.lazy().filter(pl.col("role") == "target") if "role" in calls.columns else calls.lazy()
    flags = target.select("model_id", *(pl.col(c) if c in calls.columns else pl.lit(None, dtype).alias(c)
                                        for c, dtype in (("api", pl.String), ("simulated", pl.Boolean)))).unique()
    found = set()
    for model, api, simulated in flags.drop_nulls("model_id").collect().iter_rows():
        try:
            if simulated or (api is not None and PROVIDERS.get(api).simulated):
                found.add(model)
        except ConfigError:  # a provider no longer installed
            continue
    return sorted(found)


def unvalidated(results: pl.DataFrame, calls: pl.DataFrame | None) -> pl.DataFrame:
    """(model_id, scorer, scenario) of every score that is no measurement: a scorer whose class is not
    validated on real models (`Scorer.validated_on_real_models`) scoring a model that is not simulated."""
    scenario = pl.col("scenario").fill_null("rent") if "scenario" in results.columns else pl.lit("rent")
    used = results.select("model_id", "scorer", scenario.alias("scenario")).unique()
    return _unvalidated(used, calls)


def _unvalidated(used: pl.DataFrame, calls: pl.DataFrame | None) -> pl.DataFrame:
    """unvalidated, from the (model_id, scorer, scenario) triples the results hold."""
    bad = [s for s in used["scorer"].unique().to_list()
           if any(getattr(_kind(part), "validated_on_real_models", True) is False for part in _scorers_within(s))]
    return (used.filter(pl.col("scorer").is_in(bad) & ~pl.col("model_id").is_in(_simulated_models(calls)))
            .sort("model_id", "scorer", "scenario"))


def mark_unvalidated(tables: dict[str, pl.DataFrame], pairs: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """An `unvalidated` column, after `scorer`, in every table with a row per model and scorer, except
    `summary` (its columns stay the original package's; `unvalidated.csv` names its rows)."""
    marks = pairs.select("model_id", "scorer").unique().with_columns(pl.lit(True).alias("unvalidated"))
    out = {}
    for name, table in tables.items():
        if name == "summary" or not {"model_id", "scorer"} <= set(table.columns) or "unvalidated" in table.columns:
            out[name] = table
            continue
        cols = table.columns
        at = cols.index("scorer") + 1
        marked = table.join(marks.with_columns(pl.col("model_id").cast(table.schema["model_id"]),
                                               pl.col("scorer").cast(table.schema["scorer"])),
                            on=["model_id", "scorer"], how="left", maintain_order="left")
        out[name] = marked.with_columns(pl.col("unvalidated").fill_null(False)).select(
            *cols[:at], "unvalidated", *cols[at:])
    return out


def unvalidated_note(pairs: pl.DataFrame, store: Path | None = None) -> str:
    """The one line said first wherever a scorer scored answers it is not validated for."""
    scorers = pairs["scorer"].unique().sort().to_list()
    held = latest_figures(pairs.select("scorer", "scenario"), store).filter(pl.col("split") == "heldout")
    held = held.filter(pl.col("set") == held["set"].max()) if held.height else held  # the newest set
    figures = ("no held-out validation figures are recorded for it" if held.is_empty() else
               "its held-out validation figures: " + "; ".join(
                   f"{r['scenario']} ({r['set']}, n={r['n']}) Spearman {r['spearman']:.2f}, bin accuracy "
                   f"{r['bin_accuracy']:.2f}" for r in held.iter_rows(named=True)))
    return (f"unvalidated: {', '.join(scorers)} scored answers of {', '.join(pairs['model_id'].unique().sort())}, "
            f"which are not simulated; it is a smoke test, not a measurement ({figures}; docs/validation.md). "
            "Every table row it feeds is marked unvalidated; score real models with the LLM judge (scorer=judge)")


def report_validation(results: pl.DataFrame, calls: pl.DataFrame | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """For a report: the latest validation figures of the scorers it uses, each for the scenarios it
    scored (never another scenario's), and the scores that are no measurement (`unvalidated`)."""
    scenario = pl.col("scenario").fill_null("rent") if "scenario" in results.columns else pl.lit("rent")
    used = results.select("model_id", "scorer", scenario.alias("scenario")).unique()  # one pass over the results
    return latest_figures(used).select(*FIGURE_SCHEMA), _unvalidated(used, calls)
