"""A scenario file (`conf/scenario/<name>.yaml`) read and checked: the typed `ScenarioConfig`.

The file is data: two parties, factors with levels, every sentence in three voices (party A
asking, party B asking, a third person), the fact sheet, the judge's axis and the offline cues.
Each factor's level list is a top-level key, so `scenario.amounts=[50,100]` selects levels from
the command line. Every problem found at load is one line of the ConfigError (docs/scenarios.md).
"""

from __future__ import annotations

import re
import string
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from sycobench.errors import ConfigError
from sycobench.paths import CONF_DIR, DATA_DIR, read_yaml

__all__ = ["MAX_FILE_BYTES", "MAX_NODES", "NEUTRAL", "ScenarioConfig", "check_scenario_files", "load_cues"]

MAX_FILE_BYTES = 1 << 20  # a scenario file is a page or two of text
MAX_NODES = 50_000  # values once YAML aliases (*name) are expanded: a shipped file has a few hundred

NEUTRAL = "neutral"
# The settings every scenario has, with their types; everything else is a level list or data.
KNOBS: dict[str, type | tuple[type, ...]] = {
    "name": str, "version": (str, int), "perspectives": list, "include_neutral": bool, "explicit_role": bool,
    "currency": str, "system_prompt": str, "fact_sheet": bool, "limit": (int, type(None)), "seed": int,
    "shard": int, "num_shards": int,
}
DEFAULTS: dict[str, Any] = {
    "version": "v1", "include_neutral": True, "explicit_role": False, "currency": "", "system_prompt":
    "You are a helpful assistant.", "fact_sheet": False, "limit": None, "seed": 0, "shard": 0, "num_shards": 1,
}
DATA = ("parties", "factors", "derived", "variables", "opening", "question", "role", "facts", "judge", "sample",
        "offline_cues", "mock", "pushback")
REQUIRED = ("name", "parties", "factors", "opening", "question", "facts", "judge")
JUDGE_KEYS = ("subject", "axis", "plus", "minus")


@lru_cache(maxsize=None)
def _shipped(name: str) -> dict[str, Any]:
    return read_yaml((CONF_DIR / "scenario" / f"{name}.yaml").read_text(encoding="utf-8"))


def _fields(template: Any) -> list[str]:
    if not isinstance(template, str):
        return []
    return [f.split(".")[0].split("[")[0] for _, f, _, _ in string.Formatter().parse(template) if f]


class ScenarioConfig:
    """One scenario: its knobs as attributes, each factor's selected levels as an attribute named
    after its level list (`cfg.amounts`), and the file's data sections (`cfg.factors`, ...).

    `ScenarioConfig()` is the shipped rent scenario; keywords override its values."""

    def __init__(self, data: dict[str, Any] | None = None, /, **overrides: Any) -> None:
        merged = dict(data if data is not None else _shipped("rent"))
        merged.update(overrides)
        self._values = merged
        problems = _check(merged)
        if problems:
            raise ConfigError("\n".join(f"scenario.{p}" for p in problems))
        for key, default in DEFAULTS.items():
            merged.setdefault(key, default)
        merged.setdefault("perspectives", [*self.party_ids, NEUTRAL])
        merged["version"] = str(merged["version"])

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("_values")
        if values is None or name not in values:
            raise AttributeError(name)
        return values[name]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScenarioConfig) and self._values == other._values

    def __repr__(self) -> str:
        return f"ScenarioConfig(name={self.name!r})"

    def to_dict(self) -> dict[str, Any]:
        """The whole scenario as plain data (saved with the job; all of it is in the fingerprint)."""
        return dict(self._values)

    @property
    def party_ids(self) -> list[str]:
        return [p["id"] for p in self._values["parties"]]

    @property
    def voices(self) -> list[str]:
        """Party A, party B, the third person: the order of every voice table."""
        return [*self.party_ids, NEUTRAL]

    @property
    def level_lists(self) -> list[str]:
        """The level-list keys, in grid order."""
        return [spec["levels"] for spec in self._values["factors"].values()]

    @property
    def pushback_styles(self) -> list[str]:
        """The objection styles of its `pushback` section, in file order (none: no pushback turns)."""
        return [str(style) for style in (self._values.get("pushback") or {})]

    def party_name(self, party: str) -> str:
        return next(p.get("name", p["id"]) for p in self._values["parties"] if p["id"] == party)


def _check(d: dict[str, Any]) -> list[str]:
    """Every problem of a scenario, one line each (empty when it is fine)."""
    out = [f"{key}: missing; every scenario defines it (docs/scenarios.md)" for key in REQUIRED if key not in d]
    if out:
        return out
    lists = {spec.get("levels") for spec in d["factors"].values() if isinstance(spec, dict)} if isinstance(d["factors"], dict) else set()
    out += [f"{key}: no such setting. Check the spelling (see `python -m sycobench --cfg job`)"
            for key in d if key not in KNOBS and key not in DATA and key not in lists]
    for key, kind in KNOBS.items():
        if key in d and not isinstance(d[key], kind) or (kind is int and isinstance(d.get(key), bool)):
            out.append(f"{key}: expected {getattr(kind, '__name__', 'a number or null')}, got {d[key]!r}")
    parties = d["parties"]
    if not (isinstance(parties, list) and len(parties) == 2 and all(isinstance(p, dict) and p.get("id") for p in parties)):
        return out + ["parties: give exactly two, each with an id and a name: [{id: a, name: ...}, {id: b, name: ...}]"]
    ids = [str(p["id"]) for p in parties]
    if len(set(ids)) < 2 or NEUTRAL in ids:
        return out + [f"parties: ids must differ and not be '{NEUTRAL}', got {ids}"]
    voices = [*ids, NEUTRAL]
    factors = d["factors"]
    if not isinstance(factors, dict) or not factors:
        return out + ["factors: give at least one factor: {name: {levels: <list key>}}"]
    names = set(factors) | set(d.get("derived") or {})
    known = names | set(d.get("variables") or {})

    def voiced(where: str, table: Any, fields: set[str]) -> None:
        if not isinstance(table, dict):
            out.append(f"{where}: give one sentence per voice ({', '.join(voices)})")
            return
        for v in voices:
            if v not in table:
                out.append(f"{where}: no '{v}' voice (give {', '.join(voices)})")
        for v in table:
            if v not in voices and v != "fact":
                out.append(f"{where}: '{v}' is not a party id; voices are {', '.join(voices)}")
            for f in _fields(table[v]):
                if f not in fields:
                    out.append(f"{where}.{v}: template names unknown factor or variable {{{f}}}")

    for name, spec in factors.items():
        where = f"factors.{name}"
        if not isinstance(spec, dict) or not isinstance(spec.get("levels"), str):
            out.append(f"{where}: give `levels: <key of its level list>`")
            continue
        key = spec["levels"]
        levels = d.get(key)
        if not isinstance(levels, list) or not levels:
            out.append(f"{key}: the levels of factor {name} must be a non-empty list")
            continue
        text = spec.get("text")
        if text is None:
            continue
        if not isinstance(text, dict):
            out.append(f"{where}.text: give each level's sentences: {{level: {{{', '.join(voices)}, fact}}}}")
            continue
        unknown = sorted({str(v) for v in levels} - {str(t) for t in text})
        if unknown:
            out.append(f"{key}: unknown value(s) {unknown}; choose from {sorted(map(str, text))}")
        for level, table in text.items():
            voiced(f"{where}.text.{level}", table, known)
    for name, spec in (d.get("derived") or {}).items():
        if not isinstance(spec, dict) or not set(spec.get("from") or []) <= set(factors) or not isinstance(spec.get("values"), dict):
            out.append(f"derived.{name}: give `from: [factor, ...]` (factors of this file) and `values: {{'level level': name}}`")
    for name, spec in (d.get("variables") or {}).items():
        if not isinstance(spec, dict) or spec.get("value") not in factors or spec.get("per", spec["value"]) not in factors:
            out.append(f"variables.{name}: give `value: <numeric factor>`, optional `per: <numeric factor>`, and `format`")
    voiced("opening", d["opening"], known)
    voiced("question", d["question"], known)
    if d.get("role") is not None:
        voiced("role", d["role"], set())
    facts = d["facts"]
    if not isinstance(facts, list) or not facts:
        out.append("facts: give the fact-sheet lines, a list of templates")
    else:
        for line in facts:
            out += [f"facts: template names unknown factor or variable {{{f}}}" for f in _fields(line) if f not in known]
    judge = d["judge"]
    missing = [k for k in JUDGE_KEYS if not isinstance(judge, dict) or not judge.get(k)]
    if missing:
        out.append(f"judge: missing {', '.join(missing)} (the subject, the axis, and what +1 and -1 mean)")
    persp = d.get("perspectives", voices)
    if not isinstance(persp, list) or not persp or not set(map(str, persp)) <= set(voices):
        out.append(f"perspectives: values must be among {voices}, got {persp}")
    out += _check_extras(d)
    if d.get("pushback") is not None:
        out += _check_pushback(d["pushback"], ids, known)
    sample = d.get("sample") or {}
    for key in ("strata", "within"):
        if not set(sample.get(key) or []) <= set(factors):
            out.append(f"sample.{key}: names a factor this file does not have")
    if out:
        return out
    if d.get("limit") is not None and d["limit"] < 1:
        out.append(f"limit: must be a positive number of triplets, got {d['limit']}")
    shards = d.get("num_shards", 1)
    if shards < 1:
        out.append(f"num_shards: must be >= 1, got {shards}")
    elif not 0 <= d.get("shard", 0) < shards:
        out.append(f"shard: must be in [0, num_shards={shards}), got {d.get('shard')}")
    for spec in factors.values():
        if spec.get("text") is None and not all(isinstance(v, (int, float)) and v > 0 for v in d[spec["levels"]]):
            out.append(f"{spec['levels']}: values must be numbers > 0")
    return out


_STYLE = re.compile(r"^[a-z][a-z0-9_]*$")


def _check_pushback(section: Any, parties: list[str], known: set[str]) -> list[str]:
    """`pushback`: per style, each party's objection in its own voice and the third person's toward each
    party; every text distinct, since a reader (the mock) tells the objector by the text alone."""
    shape = (f"pushback: give each style's objections: {{style: {{{parties[0]}: ..., {parties[1]}: ..., "
             f"{NEUTRAL}: {{{parties[0]}: ..., {parties[1]}: ...}}}}}}")
    if not isinstance(section, dict) or not section:
        return [shape]
    out, seen = [], {}
    for style, table in section.items():
        where = f"pushback.{style}"
        if not isinstance(style, str) or not _STYLE.match(style) or style == "all":
            out.append(f"{where}: a style is a lowercase name (letters, digits, _), not 'all'")
            continue
        if not isinstance(table, dict):
            out.append(shape)
            continue
        neutral = table.get(NEUTRAL)
        texts = {f"{where}.{p}": table.get(p) for p in parties}
        texts |= {f"{where}.{NEUTRAL}.{p}": neutral.get(p) if isinstance(neutral, dict) else None for p in parties}
        out += [f"{where}: '{key}' is not a party id or {NEUTRAL}; give {', '.join(parties)}, {NEUTRAL}"
                for key in table if key not in (*parties, NEUTRAL)]
        if isinstance(neutral, dict):
            out += [f"{where}.{NEUTRAL}: '{key}' is not a party id; give the objection toward {' and '.join(parties)}"
                    for key in neutral if key not in parties]
        for key, text in texts.items():
            if not isinstance(text, str) or not text.strip():
                out.append(f"{key}: give the objection as one text (the asker's voice, asking again)"
                           + ("; it is missing" if text is None else ""))
                continue
            out += [f"{key}: template names unknown factor or variable {{{f}}}" for f in _fields(text) if f not in known]
            if text in seen:
                out.append(f"{key}: the same text as {seen[text]}; each objection must differ (the mock tells who "
                           "objects by its text)")
            seen.setdefault(text, key)
    return out


def _check_extras(d: dict[str, Any]) -> list[str]:
    """The optional offline cues and mock sentences, which only the offline scorer and the mock read."""
    out = []
    cues = d.get("offline_cues")
    for i, row in enumerate(cues if isinstance(cues, list) else []):
        phrases = row.get("phrases") if isinstance(row, dict) else None
        if not (isinstance(row, dict) and row.get("side") in ("a", "b", "balance", "skip")
                and isinstance(row.get("weight"), (int, float)) and isinstance(phrases, list) and phrases):
            out.append(f"offline_cues[{i}]: give {{side: a|b|balance|skip, weight: <number>, phrases: [...]}}")
            continue
        for phrase in phrases:
            try:
                re.compile(str(phrase))
                ok = str(phrase)[:1].isalpha()
            except re.error:
                ok = False
            if not ok:
                out.append(f"offline_cues[{i}]: {phrase!r} is not a lowercase regex starting with a letter")
    if cues is not None and not isinstance(cues, (list, str)):
        out.append("offline_cues: give a list of cue rows, or the name of a file in data/scenarios/")
    mock = d.get("mock")
    writer = mock.get("writer") if isinstance(mock, dict) else None
    if writer is not None and writer != "rent":
        out.append(f"mock.writer: {writer!r} is not a writer sycobench has (rent); give mock.answers instead")
    answers = mock.get("answers") if isinstance(mock, dict) else None
    if answers is not None:
        closers = answers.get("closers") if isinstance(answers, dict) else None
        for side in ("a", "b", "balanced"):
            if not isinstance(answers, dict) or not isinstance(answers.get(side), list) or len(answers[side]) < 5:
                out.append(f"mock.answers.{side}: give at least five sentences")
            if not isinstance(closers, dict) or not closers.get(side):
                out.append(f"mock.answers.closers.{side}: give at least one closing sentence")
    return out


def _check_yaml(path: Path) -> None:
    """A scenario file small enough to read and with few enough aliases to expand: checked before Hydra
    composes it (a few hundred bytes of nested aliases would otherwise expand for minutes)."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: {size:,} bytes; a scenario file has at most {MAX_FILE_BYTES:,} (check the file)")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: a config file is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                          "check the file") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)  # aliases stay shared nodes: nothing expands yet
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if root is not None and _expanded(root, {}) > MAX_NODES:
        raise ConfigError(f"{path}: its YAML aliases (*name) expand to more than {MAX_NODES:,} values; "
                          "write the values out")


def _expanded(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many values `node` becomes once every alias is copied out, counted once per shared node."""
    if id(node) not in sizes:
        sizes[id(node)] = 0  # a node that contains itself counts as a leaf here (Hydra refuses it anyway)
        children = node.value if isinstance(node, yaml.SequenceNode) else (
            [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else [])
        sizes[id(node)] = min(1 + sum(_expanded(child, sizes) for child in children), MAX_NODES + 1)
    return sizes[id(node)]


def check_scenario_files(overrides: list[str]) -> None:
    """The scenario file an invocation chooses (`scenario=NAME`, default rent), wherever Hydra would find
    it (the shipped conf/ and every `hydra.searchpath` folder), checked for size and aliases."""
    choice = "rent"
    folders = [CONF_DIR]
    for item in overrides:
        key, _, value = item.partition("=")
        key = key.lstrip("+~")
        if key == "scenario":
            choice = value.strip().strip("'\"")
        elif key == "hydra.searchpath":
            for entry in value.strip().strip("[]").split(","):
                entry = entry.strip().strip("'\"")
                if entry.startswith("file://"):
                    folders.append(Path(entry.removeprefix("file://")))
    for folder in folders:
        path = folder / "scenario" / f"{choice}.yaml"
        if path.is_file():
            _check_yaml(path)


def load_cues(cfg: ScenarioConfig) -> list[dict[str, Any]] | None:
    """The offline scorer's cue phrases: a list in the file, or a data file it names."""
    cues = cfg.to_dict().get("offline_cues")
    if isinstance(cues, str):
        return _cue_file(cues)
    return cues or None


@lru_cache(maxsize=8)
def _cue_file(name: str) -> list[dict[str, Any]]:
    path = DATA_DIR / "scenarios" / name
    if not path.is_file():
        raise ConfigError(f"scenario offline_cues: no cue file {name!r} in the shipped data/scenarios/")
    return read_yaml(path.read_text(encoding="utf-8"))
