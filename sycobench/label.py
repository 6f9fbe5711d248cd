"""`python -m sycobench.label PATH [--n 60] [--seed 0] [--out labels.html]`: a page for people to label
a seeded, stratified sample of the answers of a job folder (or of every job in a sweep folder),
blind; its CSV export is imported with `python -m sycobench.score run_dir=PATH scorer=human
scorer.labels=<the CSV>` (docs/validation.md)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from sycobench.errors import ConfigError, SycobenchError
from sycobench.exitcodes import OneLineParser, cli_failure

__all__ = ["main"]

PROG = "python -m sycobench.label"


def check_out(out: Path) -> None:
    """The page's file: in an existing, writable folder that is not part of a job folder."""
    from sycobench.store import JobFolder

    if out.is_dir():
        raise ConfigError(f"--out {out}: a folder; give the page's file name, e.g. --out {out / 'labels.html'}")
    parent = out.resolve().parent
    for folder in (parent, *parent.parents):
        if JobFolder(folder).is_job():
            raise ConfigError(f"--out {out}: inside the job folder {folder}; a job folder holds only the job's own "
                              "files: write the page elsewhere")
    if not parent.is_dir():
        raise ConfigError(f"--out {out}: the folder {parent} does not exist; create it or choose another")
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"--out {out}: the folder {parent} is not writable; choose another")


def write_page(out: Path, text: str) -> None:
    """Written whole or not at all (a temporary file beside it, then renamed)."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="a job folder or a sweep folder")
    parser.add_argument("--n", type=int, default=60, help="answers to label (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="the sample's and the order's seed (default 0)")
    parser.add_argument("--out", type=Path, default=Path("labels.html"), help="the page (default labels.html)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        if args.n < 1:
            raise ConfigError(f"--n {args.n}: give at least 1 answer to label")
        if args.seed < 0:
            raise ConfigError(f"--seed {args.seed}: give a whole number >= 0")
        check_out(args.out)
        from sycobench.labelling.page import page_html
        from sycobench.labelling.sample import label_sample

        sample = label_sample(args.path, args.n, seed=args.seed)
        write_page(args.out, page_html(sample))
    except (SycobenchError, OSError, KeyboardInterrupt) as exc:
        return cli_failure("sycobench.label", exc, path=args.out, interrupted="interrupted; no page written")
    strata = sample.strata.filter(sample.strata["take"] > 0).height
    print(f"{len(sample.items)} of {sample.pool} answers (seed {sample.seed}, {strata} strata of scenario, model and "
          f"side), sample {sample.sample_id}: {args.out}")
    print(f"import each person's CSV with: python -m sycobench.score run_dir={args.path} scorer=human "
          "scorer.labels=<the CSV>")
    return 0


if __name__ == "__main__":
    sys.exit(main())
