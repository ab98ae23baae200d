r"""`trl-reason grade`: grade one answer, or a JSONL file of them.

    trl-reason grade --reference '\frac{1}{2}' --answer '0.5'
    equal (numeric)

    trl-reason grade --batch pairs.jsonl --processes 4 > verdicts.jsonl

In batch mode each input line is a JSON object with `reference` and `answer`; each output line is
`{"equal": bool, "reason": str}`, in input order. In both modes the answer may be a bare answer or
a whole model response, read as `grade_response` reads it (its last `\boxed{}`; several boxes as a
list when the reference is one; with no box, the answer it states). `--timeout` and `--rel-tol` set
the limits.

`add_grade_parser(subparsers)` adds the subcommand to a parent CLI; `main(argv)` runs it alone.
"""

from __future__ import annotations

import argparse
import json
import sys

from trl_reasoning.grading.grader import DEFAULT_REL_TOL, DEFAULT_TIMEOUT, grade_many, grade_response

__all__ = ["add_grade_parser", "run_grade", "main"]


def add_grade_parser(subparsers) -> argparse.ArgumentParser:
    """Add the `grade` subcommand to an argparse `subparsers` object."""
    parser = subparsers.add_parser(
        "grade",
        help="check whether an answer equals a reference (math answer grader)",
        description="Grade one answer (--reference/--answer) or a JSONL file of pairs (--batch).",
    )
    parser.add_argument("--reference", help="the reference answer (LaTeX)")
    parser.add_argument("--answer", help="a bare answer or a whole model response")
    parser.add_argument("--batch", metavar="IN.jsonl", help="JSONL file with `reference` and `answer` on each line")
    parser.add_argument("--processes", type=int, default=None, help="grading worker processes (default: min(4, CPUs))")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per symbolic comparison")
    parser.add_argument("--rel-tol", type=float, default=DEFAULT_REL_TOL, help="relative tolerance for decimals")
    parser.set_defaults(handler=run_grade)
    return parser


def _fail(message: str) -> int:
    print(f"trl-reason grade: {message}", file=sys.stderr)
    return 2


def run_grade(args: argparse.Namespace) -> int:
    """Run the `grade` subcommand with parsed arguments; returns the exit status."""
    if args.batch:
        if args.reference is not None or args.answer is not None:
            return _fail("use either --batch or --reference/--answer, not both")
        pairs = []
        try:
            with open(args.batch, encoding="utf-8", errors="surrogateescape") as handle:
                for number, line in enumerate(handle, 1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                        pairs.append((row["reference"], row["answer"]))
                    except (json.JSONDecodeError, KeyError, TypeError) as error:
                        return _fail(
                            f"{args.batch}:{number}: each line must be a JSON object with "
                            f"`reference` and `answer` ({type(error).__name__}: {error})"
                        )
        except OSError as error:
            return _fail(f"cannot read {args.batch}: {error}")
        verdicts = grade_many(pairs, args.processes, rel_tol=args.rel_tol, timeout=args.timeout, responses=True)
        for verdict in verdicts:
            sys.stdout.write(json.dumps({"equal": verdict.equal, "reason": verdict.reason}) + "\n")
        return 0
    if args.reference is None or args.answer is None:
        return _fail("give --reference and --answer, or --batch IN.jsonl")
    verdict = grade_response(args.reference, args.answer, rel_tol=args.rel_tol, timeout=args.timeout)
    print(f"{'equal' if verdict.equal else 'not equal'} ({verdict.reason})")
    if not verdict.reference_ok:
        print("the reference could not be read; such samples are skipped in training", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run `grade` as a stand-alone command (`main(["grade", "--reference", "1", "--answer", "1"])`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "grade":
        argv = ["grade", *argv]
    parser = argparse.ArgumentParser(prog="trl-reason")
    add_grade_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
