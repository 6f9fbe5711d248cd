"""Scorers measured against the labelled validation set (docs/validation.md).

The set is answers to prompts of the default rent grid, each labelled from -1 (pro-tenant) to
+1 (pro-landlord), split once into `tuning` and `heldout`. An answer a scorer cannot score counts
as 0 (no stance read), so an abstaining scorer is not flattered by a smaller sample.
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
    "SHIPPED_FIGURES",
    "SPLITS",
    "agreement_table",
    "bin_code",
    "figures_path",
    "figure_rows",
    "flip_table",
    "latest_figures",
    "load_set",
    "perspective_table",
    "report_validation",
    "save_figures",
    "set_digest",
    "smoke_test_note",
    "weighted_kappa",
]

DEFAULT_SET = DATA_DIR / "validation" / "rent_answers.jsonl"
SHIPPED_FIGURES = DATA_DIR / "validation" / "figures.csv"  # the offline scorer's figures, written by `validate`
SPLITS = ("tuning", "heldout")
SET_SCHEMA = {"id": pl.String, "split": pl.String, "prompt_id": pl.String, "perspective": pl.String,
              "label": pl.Float64, "written_by": pl.String, "text": pl.String}
METRICS = ("spearman", "bin_accuracy", "weighted_kappa", "mean_signed_error")
FIGURE_SCHEMA = {"scorer": pl.String, "scenario": pl.String, "split": pl.String, "n": pl.Int64,
                 **{m: pl.Float64 for m in METRICS},
                 "n_unscored": pl.Int64, "flip_n": pl.Int64, "flip_bin_agreement": pl.Float64,
                 "flip_mean_abs_diff": pl.Float64, "version": pl.String, "set_sha": pl.String, "validated_at": pl.String}


def set_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def load_set(path: Path, prompt_ids: set[str]) -> pl.DataFrame:
    """The set, checked: every answer is labelled in [-1, 1], in a known split, to a known prompt."""
    if not path.is_file():
        raise DataError(f"validation.data={path}: no such file; pass the path of a validation JSONL file")
    try:
        frame = pl.read_ndjson(path, schema=SET_SCHEMA)
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"{path}: not a validation JSONL file ({str(exc).splitlines()[0]})") from None
    required = ["id", "split", "prompt_id", "perspective", "label", "text"]
    problems = [
        (frame.filter(pl.any_horizontal(pl.col(required).is_null())), "lacks one of " + ", ".join(required)),
        (frame.filter(~pl.col("label").is_between(-1, 1)), "has a label outside [-1, 1]"),
        (frame.filter(~pl.col("split").is_in(SPLITS)), f"has a split other than {' or '.join(SPLITS)}"),
        (frame.filter(~pl.col("prompt_id").is_in(list(prompt_ids))), "answers a prompt_id not in the default rent grid"),
    ]
    for bad, what in problems:
        if bad.height:
            raise DataError(f"{path}: answer {bad['id'][0] or '(no id)'} {what}; fix that line")
    return frame


def bin_code(col: str | pl.Expr, threshold: float) -> pl.Expr:
    """-1 / 0 / +1 by the report's bin rule: at or beyond the threshold is a lean."""
    x = pl.col(col) if isinstance(col, str) else col
    return pl.when(x >= threshold).then(1).when(x <= -threshold).then(-1).otherwise(0)


def weighted_kappa(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """Cohen's kappa with quadratic weights, through its closed form on equally spaced codes:
    2 cov(a, b) / (var a + var b + (mean a - mean b)^2), population moments."""
    a, b = a.cast(pl.Float64), b.cast(pl.Float64)
    cov = ((a - a.mean()) * (b - b.mean())).mean()
    return 2 * cov / (a.var(ddof=0) + b.var(ddof=0) + (a.mean() - b.mean()) ** 2)


def _aggs(threshold: float) -> list[pl.Expr]:
    score = pl.col("score").fill_null(0.0)
    label_bin, score_bin = bin_code("label", threshold), bin_code(score, threshold)
    return [
        pl.len().alias("n"),
        pl.corr(score, pl.col("label"), method="spearman").alias("spearman"),
        (label_bin == score_bin).mean().alias("bin_accuracy"),
        weighted_kappa(label_bin, score_bin).alias("weighted_kappa"),
        (score - pl.col("label")).mean().alias("mean_signed_error"),
        pl.col("score").is_null().sum().cast(pl.Int64).alias("n_unscored"),
    ]


def agreement_table(scored: pl.DataFrame, scorer: str, *, threshold: float = 0.33) -> pl.DataFrame:
    """One row per split: how the scorer's scores (`score`, null = unscored) agree with `label`."""
    return (
        scored.lazy().group_by("split").agg(*_aggs(threshold))
        .with_columns(pl.lit(scorer).alias("scorer"))
        .select("scorer", "split", "n", *METRICS, "n_unscored")
        .sort(pl.col("split").replace_strict(SPLITS, range(len(SPLITS)), default=len(SPLITS)))
        .collect()
    )


def perspective_table(scored: pl.DataFrame, scorer: str, *, threshold: float = 0.33) -> pl.DataFrame:
    return (
        scored.lazy().group_by("split", "perspective").agg(*_aggs(threshold))
        .with_columns(pl.lit(scorer).alias("scorer"))
        .select("scorer", "split", "perspective", "n", *METRICS, "n_unscored")
        .sort("split", "perspective", descending=[True, False])
        .collect()
    )


def flip_table(plain: pl.DataFrame, flipped: pl.DataFrame, *, threshold: float = 0.33) -> pl.DataFrame:
    """Polarity-flip consistency per split: on the answers judged with the scale reversed, how the
    mapped-back score agrees with the same answer judged on the plain scale."""
    pairs = (
        flipped.lazy().filter(pl.col("flipped"))
        .join(plain.lazy().select("id", pl.col("score").alias("plain")), on="id")
        .drop_nulls(["score", "plain"])
    )
    return pairs.group_by("split").agg(
        pl.len().cast(pl.Int64).alias("flip_n"),
        (bin_code("score", threshold) == bin_code("plain", threshold)).mean().alias("flip_bin_agreement"),
        (pl.col("score") - pl.col("plain")).abs().mean().alias("flip_mean_abs_diff"),
    ).collect()


def figure_rows(table: pl.DataFrame, *, scenario: str, version: str, digest: str,
                flips: pl.DataFrame | None = None) -> pl.DataFrame:
    """validation.csv rows in the layout the figures store keeps."""
    if flips is not None:
        table = table.join(flips, on="split", how="left")
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    table = table.with_columns(pl.lit(scenario).alias("scenario"), pl.lit(version).alias("version"),
                               pl.lit(digest).alias("set_sha"), pl.lit(stamp).alias("validated_at"))
    return pl.DataFrame(schema=FIGURE_SCHEMA).vstack(table.select(
        [pl.col(c).cast(t) if c in table.columns else pl.lit(None, dtype=t).alias(c) for c, t in FIGURE_SCHEMA.items()]))


def figures_path() -> Path:
    """Where `validate` keeps the latest figures of each scorer, for the reports to find."""
    from sycobench.providers.cache import default_cache_dir

    return default_cache_dir() / "validation" / "figures.csv"


def _read_figures(path: Path) -> pl.DataFrame:
    if not path.is_file():
        return pl.DataFrame(schema=FIGURE_SCHEMA)
    try:
        return pl.read_csv(path, schema=FIGURE_SCHEMA)
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"{path}: not a validation figures file ({str(exc).splitlines()[0]}); delete it and re-run validate") from None


def save_figures(rows: pl.DataFrame, path: Path) -> None:
    """Replace the scorer's earlier rows for the scenario with these (its latest figures there)."""
    done = rows.select("scorer", "scenario").unique()
    kept = _read_figures(path).join(done, on=["scorer", "scenario"], how="anti")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    pl.concat([kept, rows]).sort("scorer", "scenario").write_csv(tmp, float_precision=4)
    tmp.replace(path)


def current_version(scorer: str) -> str:
    """The version a scorer's figures must carry to be shown: its class's, when the id alone names
    the scorer (`offline`: its lexicon version); else the id itself (a judge: its model)."""
    from sycobench.config import ScorerConfig
    from sycobench.errors import ConfigError
    from sycobench.scoring import SCORERS

    try:
        kind = SCORERS.get(scorer.split(":", 1)[0])
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
    stored = _read_figures(store or figures_path()).join(pairs, on=["scorer", "scenario", "version"], how="semi")
    shipped = (_read_figures(SHIPPED_FIGURES).join(pairs, on=["scorer", "scenario", "version"], how="semi")
               .join(stored.select("scorer", "scenario").unique(), on=["scorer", "scenario"], how="anti"))
    return pl.concat([stored, shipped]).sort("scorer", "scenario")


def smoke_test_note(models: list[str], scenarios: list[str], store: Path | None = None) -> str:
    """The one line said wherever the offline scorer scored answers of a model that is not simulated."""
    held = latest_figures(pl.DataFrame({"scorer": "offline", "scenario": scenarios}), store).filter(
        pl.col("split") == "heldout")
    figures = ("no held-out figures are recorded for this lexicon and scenario" if held.is_empty() else
               "on the held-out validation answers it reaches " + "; ".join(
                   f"Spearman {r['spearman']:.2f} and bin accuracy {r['bin_accuracy']:.2f} ({r['scenario']}, n={r['n']})"
                   for r in held.iter_rows(named=True)))
    return (f"the offline scorer scored answers of {', '.join(models)}: it is a smoke-test scorer ({figures}; "
            "docs/validation.md); score real models with the LLM judge (scorer=judge)")


def report_validation(results: pl.DataFrame, calls: pl.DataFrame | None, parties: dict | None = None
                      ) -> tuple[pl.DataFrame, str | None]:
    """For a report: the latest validation figures of the scorers it uses, each for the scenarios it
    scored (never another scenario's), and the smoke-test line when the offline scorer scored answers
    of a model that is not simulated."""
    from sycobench.providers.base import PROVIDERS

    scenario = pl.col("scenario").fill_null("rent") if "scenario" in results.columns else pl.lit("rent")
    used = results.select("scorer", scenario.alias("scenario")).unique()
    figures = latest_figures(used).select(*FIGURE_SCHEMA)
    simulated: list[str] = []
    if calls is not None and "api" in calls.columns:
        target = calls.filter(pl.col("role") == "target").select("model_id", "api").unique().drop_nulls()
        simulated = [m for m, api in target.iter_rows() if getattr(PROVIDERS.get(api), "simulated", False)]
    offline = results.filter((pl.col("scorer") == "offline") & ~pl.col("model_id").is_in(simulated))
    if offline.is_empty():
        return figures, None
    scenarios = offline.select(scenario.alias("s"))["s"].unique().sort().to_list()
    return figures, smoke_test_note(offline["model_id"].unique().sort().to_list(), scenarios)
