"""Mutation testing of the learning-flow engine (docs/testing.md, "Mutation testing").

    python mutation/run.py                 every mutant; fails under mutation/threshold.txt
    python mutation/run.py --sample 30     30 random mutants (+ the canary); fails only if the tool is broken
    python mutation/run.py --list          the mutants, per file and function; runs no test

cosmic-ray (mutation/cosmic-ray.toml) makes the mutants: it edits the source
file on disk, runs the test command, and puts the file back. This script is
the glue around it: it builds the session, skips what is not worth running
(filtered operators, mutants that do not compile, mutants inside type
annotations, the equivalents of mutation/equivalent.toml), picks the sample,
runs the unmutated tests first, then each mutant, and prints the score and
every survivor with its diff.

It edits files under learning/ while it runs: do not run anything else in this
checkout meanwhile. Interrupting it (Ctrl-C) restores the file of the mutant
at hand; `git diff learning/` shows nothing afterwards.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import re
import secrets
import sys
import time
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from cosmic_ray.commands import init as cr_init
from cosmic_ray.config import load_config
from cosmic_ray.modules import filter_paths, find_modules
from cosmic_ray.mutating import mutate_and_test, mutate_code
from cosmic_ray.plugins import get_operator
from cosmic_ray.testing import run_tests
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "mutation" / "cosmic-ray.toml"
SESSION = ROOT / "mutation" / "session.sqlite"

# Why a mutant was not run: the first words of the skipped result's output.
SKIP_OPERATOR = "Filtered operator"
SKIP_SYNTAX = "Does not compile"
SKIP_ANNOTATION = "Type annotation only"
SKIP_MARKER = "Keyword-only marker"
SKIP_EQUIVALENT = "Equivalent"
SKIP_SAMPLE = "Not in the sample"


@dataclass(frozen=True)
class Mutant:
    job_id: str
    file: str
    line: int
    function: str  # the innermost def or class around it, "<module>" outside any
    operator: str
    source: str  # the mutated line as it was, stripped
    mutated: str  # what the mutant puts there, stripped ("" for a removed line)
    compiles: bool

    @property
    def key(self):
        return (self.file, self.function, self.operator, self.source, self.mutated)

    def label(self):
        return f"{self.file}:{self.line} {self.function} {self.operator}"


def _functions(tree: ast.Module) -> list[tuple[int, int, str]]:
    """(first line incl. decorators, last line, name) of every def and class."""
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            spans.append((first, node.end_lineno, node.name))
    return spans


def _annotation_spans(tree: ast.Module) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) positions of every annotation; with `from __future__ import
    annotations` they are never evaluated, so a mutant inside one cannot act."""
    nodes = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            nodes.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            nodes.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            nodes.append(node.annotation)
    return [((n.lineno, n.col_offset), (n.end_lineno, n.end_col_offset)) for n in nodes]


class Source:
    """One module under mutation: its text, functions and annotations."""

    def __init__(self, path: str):
        self.path = path
        self.text = (ROOT / path).read_text(encoding="utf-8")
        self.lines = self.text.splitlines()
        tree = ast.parse(self.text)
        self.functions = _functions(tree)
        self.annotations = _annotation_spans(tree)
        self.future_annotations = any(
            isinstance(n, ast.ImportFrom) and n.module == "__future__" and any(a.name == "annotations" for a in n.names)
            for n in tree.body
        )

    def function_at(self, line: int) -> str:
        around = [(first, name) for first, last, name in self.functions if first <= line <= last]
        return max(around)[1] if around else "<module>"

    def keyword_only_marker(self, start: tuple[int, int]) -> bool:
        """The bare `*` of a signature, which cosmic-ray takes for a multiplication
        (into `/`, it even compiles: the parameters before it become positional-only)."""
        line, column = start
        return bool(re.match(r"\*\s*(,|\)|$)", self.lines[line - 1][column:]))

    def in_annotation(self, start: tuple[int, int]) -> bool:
        return self.future_annotations and any(a <= start < b for a, b in self.annotations)


def _operator(mutation):
    return get_operator(mutation.operator_name)(**(mutation.operator_args or {}))


def _changed_lines(before: list[str], after: list[str]) -> str:
    """The lines of ``after`` that differ from ``before``, stripped and joined."""
    top = 0
    while top < min(len(before), len(after)) and before[top] == after[top]:
        top += 1
    bottom = 0
    while bottom < min(len(before), len(after)) - top and before[-1 - bottom] == after[-1 - bottom]:
        bottom += 1
    return " / ".join(line.strip() for line in after[top:len(after) - bottom])


def describe(work_db: WorkDB) -> dict[str, Mutant]:
    """Every work item of the session as a Mutant, keyed by job id."""
    sources: dict[str, Source] = {}
    mutants = {}
    for item in work_db.work_items:
        mutation = item.mutations[0]
        path = str(mutation.module_path)
        source = sources.setdefault(path, Source(path))
        line = mutation.start_pos[0]
        mutated = mutate_code(source.text, _operator(mutation), mutation.occurrence) or ""
        try:
            compile(mutated, path, "exec")
            compiles = True
        except SyntaxError:
            compiles = False
        mutants[item.job_id] = Mutant(
            item.job_id, path, line, source.function_at(line), mutation.operator_name,
            source.lines[line - 1].strip(), _changed_lines(source.lines, mutated.splitlines()), compiles,
        )
    return mutants


def load_equivalents(path: Path) -> list[dict]:
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("equivalent", []) if path.exists() else []
    for entry in entries:
        missing = {"file", "function", "operator", "line", "mutant", "reason"} - set(entry)
        if missing or not str(entry.get("reason", "")).strip():
            sys.exit(f"{path}: an equivalent needs file, function, operator, line, mutant and a reason: {entry}")
    return entries


def _matches(entry: dict, mutant: Mutant) -> bool:
    wanted = (entry["file"], entry["function"], entry["operator"], entry["line"].strip(), entry["mutant"].strip())
    return wanted == mutant.key


def init_session(config, session: Path, settings: dict) -> dict[str, Mutant]:
    """A fresh session with every mutant, the ones not worth running marked skipped."""
    session.unlink(missing_ok=True)
    paths = [Path(p) for p in config["module-path"]]
    modules = filter_paths(find_modules(paths), config.get("excluded-modules", ()))
    with use_db(str(session)) as work_db:
        cr_init(sorted(modules), work_db, config.operators_config)
        mutants = describe(work_db)
        excluded = config.sub("filters", "operators-filter").get("exclude-operators", ())
        excluded = re.compile("|".join(f"(?:{e})" for e in excluded)) if excluded else None
        equivalents = load_equivalents(ROOT / settings["equivalents-file"])
        used = [False] * len(equivalents)
        sources: dict[str, Source] = {}
        for item in list(work_db.pending_work_items):
            mutation = item.mutations[0]
            mutant = mutants[item.job_id]
            source = sources.setdefault(mutant.file, Source(mutant.file))
            reason = None
            if excluded and excluded.match(mutation.operator_name):
                reason = SKIP_OPERATOR
            elif source.in_annotation(mutation.start_pos):
                reason = SKIP_ANNOTATION
            elif source.keyword_only_marker(mutation.start_pos):
                reason = SKIP_MARKER
            elif not mutant.compiles:
                reason = SKIP_SYNTAX
            for index, entry in enumerate(equivalents):
                if _matches(entry, mutant):
                    used[index] = True
                    reason = reason or f"{SKIP_EQUIVALENT}: {entry['reason'].strip()}"
            if reason:
                work_db.set_result(item.job_id, WorkResult(output=reason, worker_outcome=WorkerOutcome.SKIPPED))
        stale = [entry for entry, hit in zip(equivalents, used, strict=True) if not hit]
        if stale:
            for entry in stale:
                print(f"equivalent.toml: no mutant matches {entry['file']} {entry['function']} {entry['operator']} "
                      f"{entry['line']!r} -> {entry['mutant']!r}: the code changed; update or remove the entry.")
            sys.exit(2)
    return mutants


def find_canary(mutants: dict[str, Mutant], canary: dict) -> Mutant:
    for mutant in mutants.values():
        if (mutant.file, mutant.function, mutant.operator, mutant.source) == (
            canary["file"], canary["function"], canary["operator"], canary["line"]
        ):
            return mutant
    sys.exit(f"The canary mutant {canary} is gone from the code: choose another in mutation/cosmic-ray.toml.")


def pick_sample(work_db: WorkDB, mutants: dict[str, Mutant], size: int, seed: int, canary: Mutant) -> None:
    pending = sorted((item.job_id for item in work_db.pending_work_items), key=lambda job: mutants[job].key)
    others = [job for job in pending if job != canary.job_id]
    chosen = set(random.Random(seed).sample(others, min(size, len(others)))) | {canary.job_id}
    for job in pending:
        if job not in chosen:
            work_db.set_result(job, WorkResult(output=SKIP_SAMPLE, worker_outcome=WorkerOutcome.SKIPPED))


def print_inventory(work_db: WorkDB, mutants: dict[str, Mutant]) -> None:
    per_function: dict[str, Counter] = defaultdict(Counter)
    skipped: Counter = Counter()
    results = dict(work_db.results)
    for job, mutant in mutants.items():
        result = results.get(job)
        if result is None:
            per_function[mutant.file][mutant.function] += 1
        else:
            skipped[result.output.split(":")[0]] += 1
    total = 0
    for file in sorted(per_function):
        count = sum(per_function[file].values())
        total += count
        print(f"{file}: {count}")
        for function, n in sorted(per_function[file].items()):
            print(f"    {function}: {n}")
    print(f"{total} mutants to run; not run: " + ", ".join(f"{why} {n}" for why, n in sorted(skipped.items())))


def _summary_line(output: str) -> str:
    lines = [line for line in (output or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def killed_by_a_test(result: WorkResult) -> bool:
    """A kill the tests made: a failure, an error, a collection error, or a hang.
    Anything else (no tests ran, a usage error) means the test command is broken."""
    if result.output == "timeout":
        return True
    return bool(re.search(r"\b\d+ (failed|errors?)\b|Interrupted: ", _summary_line(result.output)))


def fresh_database(command: str) -> str:
    """The test command building the test database anew instead of reusing it."""
    return command.replace("--reuse-db", "--create-db")


def execute(work_db: WorkDB, mutants: dict[str, Mutant], config) -> float:
    pending = list(work_db.pending_work_items)
    started = time.monotonic()
    rebuild = False
    for number, item in enumerate(pending, start=1):
        t0 = time.monotonic()
        command = fresh_database(config.test_command) if rebuild else config.test_command
        result = mutate_and_test(item.mutations, command, config.timeout)
        # A run stopped by the timeout is killed mid-test: rows a transactional
        # test committed are never flushed and would fail the next mutant's
        # tests on the reused database. The next run builds it anew.
        rebuild = result.output == "timeout"
        work_db.set_result(item.job_id, result)
        outcome = result.test_outcome.value if result.test_outcome else result.worker_outcome.value
        print(f"[{number}/{len(pending)}] {outcome:<11} {time.monotonic() - t0:5.1f}s  {mutants[item.job_id].label()}",
              flush=True)
    return time.monotonic() - started


def _toml(text: str) -> str:
    return f"'{text}'" if "'" not in text and "\n" not in text else json.dumps(text)


def report(work_db: WorkDB, mutants: dict[str, Mutant], threshold: float, *, sample: bool, canary: Mutant | None,
           elapsed: float | None) -> int:
    ran = [(job, result) for job, result in work_db.results if result.worker_outcome != WorkerOutcome.SKIPPED]
    killed = [job for job, r in ran if r.worker_outcome == WorkerOutcome.NORMAL and r.test_outcome == TestOutcome.KILLED]
    survived = [(job, r) for job, r in ran
                if r.worker_outcome == WorkerOutcome.NORMAL and r.test_outcome == TestOutcome.SURVIVED]
    broken = [(job, r) for job, r in ran if (job, r) not in survived and job not in killed]
    odd_kills = [(job, r) for job, r in ran if job in killed and not killed_by_a_test(r)]
    killed = [job for job in killed if job not in dict(odd_kills)]

    for job, result in sorted(survived, key=lambda s: mutants[s[0]].key):
        mutant = mutants[job]
        print(f"\nSURVIVED {mutant.label()}")
        print("\n".join(line for line in (result.diff or "").splitlines() if line != "--- mutation diff ---"))
        print("  If no test can tell (docs/testing.md), mutation/equivalent.toml takes:")
        print(f"  [[equivalent]]\n  file = {_toml(mutant.file)}\n  function = {_toml(mutant.function)}\n"
              f"  operator = {_toml(mutant.operator)}\n  line = {_toml(mutant.source)}\n"
              f"  mutant = {_toml(mutant.mutated)}\n  reason = \"...\"")
    for job, result in broken + odd_kills:
        verdict = result.test_outcome.value if result.test_outcome else "no verdict"
        print(f"\nBROKEN {mutants[job].label()}: {result.worker_outcome.value}, {verdict}")
        print(_summary_line(result.output) or "(no test output)")

    scored = len(killed) + len(survived)
    score = 100.0 * len(killed) / scored if scored else 0.0
    timeouts = sum(1 for job, r in ran if job in killed and r.output == "timeout")
    print(f"\nMutants run: {len(ran)}; killed {len(killed)} ({timeouts} by the timeout), survived {len(survived)}, "
          f"broken {len(broken + odd_kills)}")
    if elapsed is not None and ran:
        print(f"Time: {elapsed / 60:.1f} min, {elapsed / len(ran):.1f} s per mutant")
    print(f"Score: {score:.1f}% killed" + (f" (threshold {threshold:g}%)" if not sample else " (a sample: not judged)"))

    problems = []
    if not ran:
        problems.append("no mutant ran")
    if broken or odd_kills:
        problems.append(f"{len(broken + odd_kills)} mutant run(s) ended without a test verdict")
    if canary is not None and canary.job_id in dict(survived):
        problems.append(f"the canary survived ({canary.label()}): the tests do not see the mutated code")
    if not sample and score < threshold:
        problems.append(f"score {score:.1f}% is under the threshold {threshold:g}%")
    for problem in problems:
        print(f"FAIL: {problem}")
    return 1 if problems else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, metavar="N", help="run N random mutants (and the canary)")
    parser.add_argument("--seed", type=int, help="the sample's seed (default: a fresh one, printed)")
    parser.add_argument("--list", action="store_true", help="list the mutants and run nothing")
    parser.add_argument("--resume", action="store_true", help="continue the session in mutation/session.sqlite")
    parser.add_argument("--report", action="store_true", help="report on mutation/session.sqlite, run nothing")
    parser.add_argument("--config", type=Path, default=CONFIG, help="default: mutation/cosmic-ray.toml")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress shows as it comes, in CI logs too

    os.chdir(ROOT)
    config = load_config(str(args.config))
    settings = tomllib.loads(args.config.read_text(encoding="utf-8"))["incidentio"]
    config["test-command"] = re.sub(r"^python\b", lambda _: sys.executable, config.test_command.strip())
    # The test processes: Hypothesis's state machine replays one fixed seed.
    os.environ.setdefault("RELIABILITY_SEED", settings["reliability-seed"])
    threshold = float((ROOT / settings["threshold-file"]).read_text().strip())

    if args.resume or args.report:
        if not SESSION.exists():
            sys.exit(f"No session at {SESSION}: run without --resume first.")
        with use_db(str(SESSION), mode=WorkDB.Mode.open) as work_db:
            mutants = describe(work_db)
    else:
        mutants = init_session(config, SESSION, settings)
    canary = find_canary(mutants, settings["canary"])

    with use_db(str(SESSION), mode=WorkDB.Mode.open) as work_db:
        if args.list:
            print_inventory(work_db, mutants)
            return 0
        if args.sample is not None and not (args.resume or args.report):
            seed = args.seed if args.seed is not None else secrets.randbelow(10**6)
            print(f"Sample of {args.sample} mutants (+ the canary), seed {seed}: "
                  f"repeat it with MUTATION_SEED={seed} make mutation-sample")
            pick_sample(work_db, mutants, args.sample, seed, canary)
        print_inventory(work_db, mutants)
        elapsed = None
        if not args.report:
            print(f"\nUnmutated run (must pass), on a new test database: {config.test_command}", flush=True)
            t0 = time.monotonic()
            # A fresh test database: an earlier run stopped midway may have left rows behind.
            outcome, output = run_tests(fresh_database(config.test_command), config.timeout)
            print(f"  {outcome.value} in {time.monotonic() - t0:.1f}s: {_summary_line(output)}", flush=True)
            if outcome != TestOutcome.SURVIVED:
                print(output)
                print("FAIL: the tests fail without any mutant: the test command or the services are broken")
                return 1
            # A mutant that makes the tests loop is stopped (and counts as killed)
            # after a few times the unmutated run, measured on this machine now.
            config["timeout"] = min(config.timeout, settings["timeout-factor"] * (time.monotonic() - t0))
            print(f"  a mutant's tests are stopped after {config.timeout:.0f}s", flush=True)
            elapsed = execute(work_db, mutants, config)
        sample = args.sample is not None or bool(
            [r for _, r in work_db.results if r.output == SKIP_SAMPLE])
        return report(work_db, mutants, threshold, sample=sample, canary=canary, elapsed=elapsed)


if __name__ == "__main__":
    sys.exit(main())
