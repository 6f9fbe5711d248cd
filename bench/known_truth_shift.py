"""Known-truth check of the pushback tables: does the shift's 95% interval cover the true shift?

Simulates protocol=pushback data sets as report.pushback reads them: first answers
y1 = base + SI * (+1 A asks, -1 B asks, 0 neutral) + triplet effect + noise, and for each of three
styles and each objector (A for A's asker, B for B's, both for the neutral asker) a second answer
y2 = y1 + sign * (shift + the triplet's own give-way effect) + noise, sign +1 when A objects, -1 when B does.
Each replicate is one model of one results frame; the frame goes through `pushback_tables` and the rates
below are counted over the replicates, each with its Monte Carlo standard error:

- coverage of the true pooled shift (all styles, all objectors) and, averaged over the four objector cells,
  of each cell's true shift;
- coverage of the true asymmetry (A's shift minus B's) and of the true change in SI (turn 2 - turn 1);
- the false-positive rate of the shift's sign-flip test at 5% when the true shift is 0;
- the share of pooled-shift intervals wider than 1.0.

`--scores judge` rounds every score to the judge's half steps within [-1, 1]; the truths are then
expectations on that scale, computed exactly from the normal distribution.

    python bench/known_truth.py --metric shift --triplets 12     # or run this file directly
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass

import numpy as np
import polars as pl

from sycobench.report.pushback import pushback_tables

__all__ = ["ShiftTruth", "known_truth_shift", "main", "simulate_pushback"]

_BASE, _SI, _TRIPLET_SD, _NOISE_SD, _SHIFT_SD = 0.1, 0.3, 0.3, 0.25, 0.2
_STEPS = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
_STYLES = ("simple", "firm", "authority")
_CELLS = (("a", "a"), ("b", "b"), ("neutral", "a"), ("neutral", "b"))
_SIGN = {"a": 1.0, "b": -1.0, "neutral": 0.0}
_CHUNK = 250  # replicates per pushback_tables() call


@dataclass(frozen=True)
class ShiftTruth:
    shift_true: float
    coverage: float
    cell_coverage: float
    asymmetry_coverage: float
    si_change_coverage: float
    false_positive: float
    wide: float
    replicates: int

    def se(self, p: float) -> float:
        return float(np.sqrt(p * (1.0 - p) / self.replicates))


def _judge(y: np.ndarray) -> np.ndarray:
    return np.clip(np.round(y * 2.0) / 2.0, -1.0, 1.0)


def _mean(mu: float, sd: float, judge: bool) -> float:
    """E[y] for y ~ N(mu, sd^2), or E[judge step of y]."""
    if not judge:
        return mu
    cuts = (_STEPS[:-1] + _STEPS[1:]) / 2
    cdf = np.array([0.0, *(0.5 * (1 + math.erf((c - mu) / (sd * math.sqrt(2)))) for c in cuts), 1.0])
    return float((np.diff(cdf) * _STEPS).sum())


def truths(shift: float, *, judge: bool) -> dict[str, float]:
    """The pooled shift, each cell's, the asymmetry and the change in SI, as the tables define them."""
    sd1 = math.hypot(_TRIPLET_SD, _NOISE_SD)
    sd2 = math.hypot(sd1, _SHIFT_SD, _NOISE_SD)
    first = {side: _mean(_BASE + _SI * sign, sd1, judge) for side, sign in _SIGN.items()}
    second = {(side, o): _mean(_BASE + _SI * _SIGN[side] + _SIGN[o] * shift, sd2, judge) for side, o in _CELLS}
    cells = {cell: _SIGN[cell[1]] * (second[cell] - first[cell[0]]) for cell in _CELLS}
    si1 = (first["a"] - first["b"]) / 2
    si2 = (second[("a", "a")] - second[("b", "b")]) / 2
    return {"shift": float(np.mean(list(cells.values()))), **{f"{s}|{o}": v for (s, o), v in cells.items()},
            "asymmetry": cells[("a", "a")] - cells[("b", "b")], "si_change": si2 - si1}


def simulate_pushback(shift: float, *, replicates: int, n_triplets: int, seed: int, judge: bool) -> pl.DataFrame:
    """A results frame of both turns, one model per replicate, K = 1."""
    rng = np.random.default_rng(seed)
    g = replicates * n_triplets
    effect = rng.normal(0.0, _TRIPLET_SD, g)
    gives = rng.normal(0.0, _SHIFT_SD, g)
    rows: list[pl.DataFrame] = []
    model = np.repeat(np.arange(replicates), n_triplets)
    triplet = np.tile(np.arange(n_triplets), replicates)
    first: dict[str, np.ndarray] = {}
    for side, sign in _SIGN.items():
        first[side] = _BASE + _SI * sign + effect + rng.normal(0.0, _NOISE_SD, g)
        rows.append(pl.DataFrame({"m": model, "t": triplet, "score": first[side]}).with_columns(
            side=pl.lit(side), turn=pl.lit(1), style=pl.lit(None, pl.String), objector=pl.lit(None, pl.String)))
    for style in _STYLES:
        for side, objector in _CELLS:
            y2 = first[side] + _SIGN[objector] * (shift + gives) + rng.normal(0.0, _NOISE_SD, g)
            rows.append(pl.DataFrame({"m": model, "t": triplet, "score": y2}).with_columns(
                side=pl.lit(side), turn=pl.lit(2), style=pl.lit(style), objector=pl.lit(objector)))
    frame = pl.concat(rows)
    if judge:
        frame = frame.with_columns(pl.Series("score", _judge(frame["score"].to_numpy())))
    parent = pl.format("t{}-{}", "t", "side")
    return frame.with_columns(
        model_id=pl.format("rep{}", "m"), triplet_id=pl.format("t{}", "t"), scorer=pl.lit("sim"),
        scenario=pl.lit("rent"), k=pl.lit(0, pl.Int64),
        prompt_id=pl.when(pl.col("turn") == 1).then(parent).otherwise(
            pl.format("t{}-{}-{}-{}", "t", "side", "style", "objector")),
        parent_id=pl.when(pl.col("turn") == 2).then(parent),
    ).drop("m", "t")


def _rows(shift: float, *, replicates: int, n_triplets: int, seed: int, bootstrap: int, permutations: int,
          judge: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    shifts, summaries = [], []
    for start in range(0, replicates, _CHUNK):
        count = min(_CHUNK, replicates - start)
        frame = simulate_pushback(shift, replicates=count, n_triplets=n_triplets, seed=seed + 1000 * start,
                                  judge=judge)
        tables = pushback_tables(frame, bootstrap=bootstrap, seed=seed, permutations=permutations)
        shifts.append(tables["pushback"].filter(pl.col("style") == "all").with_columns(chunk=pl.lit(start)))
        summaries.append(tables["pushback_summary"].filter(pl.col("style") == "all"))
    return pl.concat(shifts), pl.concat(summaries)


def known_truth_shift(*, replicates: int, n_triplets: int, bootstrap: int, permutations: int, seed: int = 0,
                      shift_true: float = 0.3, judge: bool = False) -> ShiftTruth:
    shift, summary = _rows(shift_true, replicates=replicates, n_triplets=n_triplets, seed=seed, bootstrap=bootstrap,
                           permutations=permutations, judge=judge)
    truth = truths(shift_true, judge=judge)
    key = pl.col("side") + "|" + pl.col("objector")
    truth_of = key.replace_strict({"all|all": truth["shift"], **{k: v for k, v in truth.items() if "|" in k}},
                                  return_dtype=pl.Float64)
    covered = (pl.col("shift_lo") <= truth_of) & (pl.col("shift_hi") >= truth_of)
    pooled = shift.filter(pl.col("side") == "all")
    cells = shift.filter(pl.col("side") != "all")

    def cover(frame: pl.DataFrame, column: str, value: float) -> float:
        return frame.select(((pl.col(f"{column}_lo") <= value) & (pl.col(f"{column}_hi") >= value)).mean()).item()

    null, _ = _rows(0.0, replicates=replicates, n_triplets=n_triplets, seed=seed + 1, bootstrap=bootstrap,
                    permutations=permutations, judge=judge)
    null_truth = truths(0.0, judge=judge)["shift"]
    false_positive = null.filter(pl.col("side") == "all").select((pl.col("shift_p_value") <= 0.05).mean()).item()
    return ShiftTruth(
        shift_true=truth["shift"], coverage=pooled.select(covered.mean()).item(),
        cell_coverage=cells.select(covered.mean()).item(),
        asymmetry_coverage=cover(summary, "asymmetry", truth["asymmetry"]),
        si_change_coverage=cover(summary, "si_change", truth["si_change"]),
        false_positive=false_positive if abs(null_truth) < 1e-12 else float("nan"),
        wide=pooled.select(((pl.col("shift_hi") - pl.col("shift_lo")) > 1.0).mean()).item(),
        replicates=replicates)


def report(r: ShiftTruth, *, triplets: int, scores: str, bootstrap: int, permutations: int) -> str:
    fp = "n/a (on the judge scale a true 0 is not a zero mean)" if math.isnan(r.false_positive) else \
        f"{r.false_positive:.3f} (MC s.e. {r.se(r.false_positive):.3f}; nominal 0.05)"
    return (f"pushback known truth at {triplets} triplets, {scores} scores ({r.replicates} replicates, B={bootstrap}, "
            f"{permutations} flips): shift_true={r.shift_true:.4f} pooled 95% interval coverage {r.coverage:.3f} "
            f"(MC s.e. {r.se(r.coverage):.3f}); per objector {r.cell_coverage:.3f}; asymmetry "
            f"{r.asymmetry_coverage:.3f}; SI change {r.si_change_coverage:.3f}; pooled intervals wider than 1.0 "
            f"{r.wide:.3f}; shift_true=0 false-positive rate at 5% {fp}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triplets", type=int, default=36)
    parser.add_argument("--replicates", type=int, default=2000)
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--permutations", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shift", type=float, default=0.3, help="the true shift toward the objector")
    parser.add_argument("--scores", choices=["continuous", "judge"], default="continuous")
    parser.add_argument("--quick", action="store_true", help="500 replicates and 1000 resamples")
    args = parser.parse_args(argv)
    if args.quick:
        args.replicates, args.bootstrap = 500, 1000
    if args.triplets < 2 or args.replicates < 1:
        parser.error("--triplets needs at least 2 and --replicates at least 1")
    start = time.perf_counter()
    r = known_truth_shift(replicates=args.replicates, n_triplets=args.triplets, bootstrap=args.bootstrap,
                          permutations=args.permutations, seed=args.seed, shift_true=args.shift,
                          judge=args.scores == "judge")
    print(report(r, triplets=args.triplets, scores=args.scores, bootstrap=args.bootstrap,
                 permutations=args.permutations) + f" [{time.perf_counter() - start:.1f} s]")


if __name__ == "__main__":
    main()
