"""Human labels as scorers, one per person, so the automatic scorers can be checked against people.

A labels file is a CSV with a header, a `score` column (in [-1, 1]; empty = unscorable) and the
answer each row scores, given one of three ways:

- `answer`: the answer's reference (`answer_ref`: its job's run id, model, prompt and sample, hashed),
  as the labelling page exports it (`python -m sycobench.label`), so the page need not name the model;
- `model_id,prompt_id,k`, when one file labels several models' answers;
- `prompt_id,k` (a job holds one model).

An optional `labeller` column names the person: the scorer is then `human:<labeller>`, else
`human:<file name>`, and every score record carries the name in its `labeller` field. A file
holding several people's labels is imported one person at a time (`scorer.labeller=NAME`). Answers
the file does not label are left unscored.
"""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path

import polars as pl

from sycobench.config import ModelConfig, ScorerConfig
from sycobench.errors import ConfigError
from sycobench.records import Answer
from sycobench.scenario_file import ScenarioConfig
from sycobench.scoring.base import Score, Scorer, ScoringContext, register_scorer

__all__ = ["LABELLER", "HumanScorer", "answer_ref", "read_labels"]

#: a labeller's name or id: letters, digits, `.`, `_`, `-`, starting with a letter or digit
LABELLER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
_TYPES = {"answer": pl.String, "labeller": pl.String, "model_id": pl.String, "prompt_id": pl.String,
          "run_id": pl.String, "k": pl.Int64, "score": pl.Float64}


def answer_ref(run_id: str | None, model_id: str, prompt_id: str, k: int) -> str:
    """One answer of one job, as an opaque id: what a labels file names instead of the model."""
    return hashlib.sha256("\x1f".join((run_id or "", model_id, prompt_id, str(int(k)))).encode()).hexdigest()[:16]


def read_labels(path: Path) -> pl.DataFrame:
    """The labels file, checked: one line naming the file and the problem for anything wrong."""
    stat = path.stat() if path.exists() else None
    if stat is None or not path.is_file():
        raise ConfigError(f"scorer.labels: {path} does not exist")
    return _read(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _read(path: str, _mtime_ns: int, _size: int) -> pl.DataFrame:
    try:
        frame = pl.read_csv(path, schema_overrides=_TYPES)
    except (pl.exceptions.PolarsError, ValueError) as exc:
        raise ConfigError(f"scorer.labels: {path} is not a CSV of labels ({str(exc).splitlines()[0]})") from None
    columns = set(frame.columns)
    if "score" not in columns or not ({"answer"} <= columns or {"prompt_id", "k"} <= columns):
        raise ConfigError(f"scorer.labels: {path} has columns {sorted(columns)}; expected prompt_id,k,score "
                          "(optionally model_id) or a labelling page's export (answer,...,score)")
    bad = frame.filter(pl.col("score").is_nan() | (pl.col("score").abs() > 1))
    if bad.height:
        raise ConfigError(f"scorer.labels: {path} has {bad.height} score(s) outside [-1, 1], e.g. {bad['score'][0]}")
    if "labeller" in columns:
        names = frame["labeller"]
        wrong = names.filter(names.is_null() | ~names.str.contains(f"^{LABELLER.pattern}$"))
        if len(wrong):
            raise ConfigError(f"scorer.labels: {path}: labeller {wrong[0]!r} is not a name of letters, digits, "
                              "'.', '_' or '-' (up to 40, starting with a letter or digit); fix the column")
    return frame


def _keys(frame: pl.DataFrame) -> list[str]:
    if "answer" in frame.columns:
        return ["answer"]
    return ["model_id", "prompt_id", "k"] if "model_id" in frame.columns else ["prompt_id", "k"]


def _person(cfg: ScorerConfig) -> tuple[str, pl.DataFrame]:
    """The labeller this scorer stands for and their labels, one per answer."""
    path = Path(str(cfg.labels))
    frame = read_labels(path)
    if "labeller" not in frame.columns:
        if cfg.labeller:
            raise ConfigError(f"scorer.labeller={cfg.labeller}: {path} has no labeller column; drop scorer.labeller")
        name = path.stem
    else:
        people = frame["labeller"].unique(maintain_order=True).to_list()
        if cfg.labeller:
            if cfg.labeller not in people:
                raise ConfigError(f"scorer.labeller={cfg.labeller}: not in {path}; it holds labels by "
                                  f"{', '.join(people)}")
            name = cfg.labeller
        elif len(people) == 1:
            name = people[0]
        else:
            raise ConfigError(f"scorer.labels: {path} holds labels by {len(people)} people ({', '.join(people[:5])}); "
                              "import one at a time with scorer.labeller=NAME")
        frame = frame.filter(pl.col("labeller") == name)
    keys = _keys(frame)
    twice = frame.filter(pl.struct(keys).is_duplicated())
    if twice.height:
        key = ", ".join(f"{k}={twice[k][0]}" for k in keys)
        raise ConfigError(f"scorer.labels: {path}: {name} labels one answer twice ({key}); keep one line per answer")
    return name, frame


@register_scorer("human")
class HumanScorer(Scorer):
    def __init__(self, cfg: ScorerConfig, ctx: ScoringContext) -> None:
        super().__init__(cfg, ctx)
        self.labeller, labels = _person(cfg)
        self.keys = _keys(labels)
        self.lookup = {tuple(row[:-1]): row[-1] for row in labels.select(*self.keys, "score").iter_rows()}
        self.matched = 0

    @classmethod
    def scorer_id(cls, cfg: ScorerConfig) -> str:
        return f"human:{_person(cfg)[0]}" if cfg.labels else cfg.name

    @classmethod
    def check(cls, cfg: ScorerConfig, *, scenario: ScenarioConfig, target: ModelConfig) -> None:
        if not cfg.labels:
            raise ConfigError("scorer.labels: human labels need a CSV: scorer.labels=path/to/labels.csv")
        _person(cfg)

    def config(self) -> dict[str, str]:
        return {"name": self.cfg.name, "labels": str(self.cfg.labels), "labeller": self.labeller}

    def _key(self, answer: Answer) -> tuple:
        if self.keys == ["answer"]:
            return (answer_ref(answer.run_id, answer.model_id, answer.prompt_id, answer.k),)
        return tuple(getattr(answer, k) for k in self.keys)

    async def score(self, answer: Answer) -> Score | None:
        key = self._key(answer)
        if key not in self.lookup:
            return None
        self.matched += 1
        value = self.lookup[key]
        return Score(score=value, unscorable=None if value is not None else "unlabelled", labeller=self.labeller)

    def summary(self) -> str:
        return f"{self.matched} of the {len(self.lookup)} labels by {self.labeller} in the file matched answers here"
