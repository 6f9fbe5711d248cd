"""sycobench.report: build a report from job folders, sweep folders and the original package's
run.jsonl / run_scored.jsonl files (any mix): report.html (headline, contents, sortable tables,
transcripts), report.md, plots, headline.tex and every table as CSV and Parquet. With
--import-legacy FILE --out DIR: write a legacy file as job folders (one per model) that
`python -m sycobench.score run_dir=DIR` can score."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from sycobench.config import DEFAULT_BOOTSTRAP, ReportConfig
from sycobench.errors import ConfigError, SycobenchError
from sycobench.exitcodes import OneLineParser, cli_failure

_EXAMPLES = """examples:
  python -m sycobench.report multirun/2026-11-29/14-03-22
  python -m sycobench.report multirun/2026-11-29/14-03-22 outputs/2026-11-30/09-12-00 old/run_scored.jsonl --out paper/
  python -m sycobench.report outputs/2026-11-30/09-12-00 --scorers offline judge:openai/gpt-4o-mini
  python -m sycobench.report --import-legacy old/run_scored.jsonl --out imported/"""


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m sycobench.report", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_EXAMPLES)
    parser.add_argument("paths", nargs="*", type=Path, help="job folders, sweep folders or legacy .jsonl files")
    parser.add_argument("--import-legacy", type=Path, metavar="FILE",
                        help="write this legacy run file as job folders in --out (no report)")
    parser.add_argument("--out", type=Path, help="output folder (default: <first PATH>/report)")
    parser.add_argument("--threshold", type=float, default=0.33, help="stance bin threshold tau")
    parser.add_argument("--bootstrap", type=int, default=DEFAULT_BOOTSTRAP, help="cluster-bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap and permutation seed")
    parser.add_argument("--reference", help="reference model for model-vs-model differences")
    parser.add_argument("--scorers", nargs="*", help="also report the mean of these scorers (the headline)")
    parser.add_argument("--formats", nargs="+", default=["svg"], metavar="FORMAT",
                        help="plot files: svg (always written), png, pdf; e.g. --formats svg pdf")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from sycobench.logs import quiet_libraries

    quiet_libraries()
    if args.import_legacy is not None:
        if args.paths or args.out is None:
            parser.error("--import-legacy FILE takes --out DIR and no other path")
        return _import(args.import_legacy, args.out)
    if not args.paths:
        taken = [v for v in (args.scorers or []) + args.formats if Path(v).exists()]  # `--formats svg JOB`
        parser.error("give at least one job folder, sweep folder or legacy file" + (
            f" ({taken[0]} was read as a value of --scorers or --formats, which take every word after them: "
            "put the folders first)" if taken else ""))
    first = args.paths[0]
    out = args.out or ((first.parent if first.is_file() else first) / "report")
    try:
        report = ReportConfig(threshold=args.threshold, bootstrap=args.bootstrap, seed=args.seed,
                              reference=args.reference, scorers=args.scorers or None, formats=args.formats)
        if out.exists() and not out.is_dir():
            raise ConfigError(f"--out {out}: a file is there; give a folder for the report")
        from sycobench.report import write_report
        from sycobench.report.job import format_headline
        from sycobench.report.terminal import model_labels

        tables = write_report(args.paths, out, report)
    except (SycobenchError, OSError, KeyboardInterrupt) as exc:
        return cli_failure("sycobench.report", exc, path=out, interrupted="interrupted; nothing is lost, run the command again")
    print(format_headline(tables["uplift"], model_labels(tables)))
    print(f"report written to {out / 'report.html'}")
    return 0


def _import(path: Path, out: Path) -> int:
    from sycobench.report.importer import import_legacy

    try:
        written = import_legacy(path, out)
    except (SycobenchError, OSError, KeyboardInterrupt) as exc:
        return cli_failure("sycobench.report", exc, path=out, interrupted="interrupted; run the import again")
    for folder, answers, scores in written:
        print(f"{folder.path}: {answers} answers, {scores} with the original scores")
    print(f"score them with: python -m sycobench.score run_dir={out} scorer=human (people's labels), or "
          "scorer=offline scorer.allow_unvalidated=true (a smoke test: its rows are marked unvalidated); the judge "
          "needs the prompts, which the original records do not hold")
    return 0


def _main() -> int:
    try:
        return main()
    except BrokenPipeError:  # the reader went away (`--help | head`): not an error
        from sycobench.logs import closed_pipe

        closed_pipe()
        return 0


if __name__ == "__main__":
    sys.exit(_main())
