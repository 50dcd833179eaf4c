"""The reliability report: ``python -m bench.reliability [--kill-runs N] [--rounds N]``.

Runs the bad-input catalogue, a random fuzz pass over the parsers, SIGKILL runs against
pointer writes and syncs, four concurrent writers and SIGINT checks, then prints the
counts (docs/reliability.md explains them). Exit 1 if any must-be-zero count is not 0.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.reliability import faults  # noqa: E402
from tests.reliability import fuzz_targets as targets  # noqa: E402
from tests.reliability.catalogue import CATALOGUE, SEEDS_FOR_FUZZ  # noqa: E402
from tests.reliability.harness import base_repo, hermetic_process_env, pointer_bytes  # noqa: E402
from tests.reliability.runner import run_entry  # noqa: E402

TOKENS = targets.YAML_TOKENS


def mutate(rng: random.Random, seed: bytes) -> bytes:
    raw = bytearray(seed)
    for _ in range(rng.randint(1, 6)):
        if not raw:
            break
        at = rng.randrange(len(raw))
        choice = rng.random()
        if choice < 0.4:
            raw[at] = rng.randrange(256)
        elif choice < 0.7:
            del raw[at]
        else:
            raw[at:at] = rng.randbytes(rng.randint(1, 4))
    return bytes(raw)


def fuzz(count: int, repo: Path, seed: int = 8) -> tuple[int, int, list[str]]:
    rng = random.Random(seed)
    pointer_seed = pointer_bytes(repo, 2)
    tried = escaped = 0
    problems: list[str] = []
    for i in range(count):
        kind = i % 5
        try:
            if kind == 0:
                text = "".join(rng.choice(TOKENS) for _ in range(rng.randint(0, 40)))
                targets.yaml_loader(text.encode("utf-8", "surrogatepass"))
                targets.validator(text.encode("utf-8", "surrogatepass"))
            elif kind == 1:
                raw = mutate(rng, rng.choice(SEEDS_FOR_FUZZ).encode())
                targets.yaml_loader(raw)
                targets.validator(raw)
            elif kind == 2:
                targets.pointer_reader(
                    mutate(rng, pointer_seed) if rng.random() < 0.8 else rng.randbytes(80)
                )
            elif kind == 3:
                text = rng.choice(["", "v", "@", "-"]) + "".join(
                    rng.choice("0123456789.e-@v~^:/ \x00abc") for _ in range(rng.randint(0, 8))
                )
                targets.percent_parser(text)
                if i % 25 == 3:  # the reference parser opens the repository: sample it
                    targets.reference_parser(repo, text)
            else:
                targets.agent_id_in_paths(
                    repo, "".join(rng.choice("ab./-_\n\x00Zé") for _ in range(rng.randint(0, 10)))
                )
        except targets.Escaped as exc:
            escaped += 1
            problems.append(str(exc)[:200])
        tried += 1
    return tried, escaped, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability", description=__doc__)
    parser.add_argument(
        "--kill-runs",
        type=int,
        default=20,
        help="SIGKILL runs of pointer writes (and syncs: all of them from 100, else a quarter)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="rounds per concurrent writer (default from --kill-runs)",
    )
    parser.add_argument("--fuzz", type=int, default=2000, help="random fuzz inputs")
    parser.add_argument(
        "--write-docs",
        action="store_true",
        help="regenerate the failpoint table of docs/reliability.md from the registry and exit",
    )
    args = parser.parse_args(argv)
    if args.write_docs:
        from tests.reliability import matrix

        doc = ROOT / "docs" / "reliability.md"
        doc.write_text(matrix.replace_doc_section(doc.read_text("utf-8")), "utf-8")
        print(f"wrote: {doc.relative_to(ROOT)}")
        return 0
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="agentver-reliability-"))
    rows: list[tuple[str, int, str]] = []
    problems: list[str] = []
    with hermetic_process_env(work / "home"):
        (work / "home").mkdir()
        # 1. the catalogue
        verdicts = []
        for i, entry in enumerate(CATALOGUE):
            (work / f"cat-{i}").mkdir()
            verdicts.append(run_entry(entry, work / f"cat-{i}"))
        ran = [v for v in verdicts if v.skipped is None]
        skipped = [v.entry.id for v in verdicts if v.skipped is not None]
        known = [v for v in ran if v.entry.known_bug]
        unexpected = [v for v in ran if not v.ok and not v.entry.known_bug]
        problems += [f"catalogue {v.entry.id}: {v.changed or v.problems}" for v in unexpected]
        # 2. fuzz
        fuzz_repo = base_repo(work / "fuzz" / "repo")
        fuzz_tried, fuzz_escaped, fuzz_problems = fuzz(args.fuzz, fuzz_repo)
        problems += fuzz_problems
        # 3. kills, concurrency, SIGINT
        pointer_kills = faults.kill_pointer_writes(work / "kill", args.kill_runs)
        sync_kills = faults.kill_syncs(work / "sync", faults.sync_kill_runs(args.kill_runs))
        rounds = args.rounds or faults.writer_rounds(args.kill_runs)
        writers = faults.concurrent_writers(work / "writers", 4, rounds)
        interrupts = [
            faults.interrupt_waiting_command(work / f"int-{i}", argv)
            for i, argv in enumerate(
                [
                    ["deploy", "support", "2"],
                    ["flag", "set", "support", "beta"],
                    ["rollback", "support", "1"],
                ]
            )
        ]
        problems += pointer_kills.problems + sync_kills.problems + writers.problems
    problems += [
        f"SIGINT: exit {r.exit_code}, changed {r.changed}, stderr {r.stderr.strip()[:200]!r}"
        for r in interrupts
        if r.exit_code != 130 or r.changed or "Traceback" in r.stderr
    ]
    bad_interrupts = sum(
        1 for r in interrupts if r.exit_code != 130 or r.changed or "Traceback" in r.stderr
    )

    tracebacks = sum(v.traceback for v in ran) + fuzz_escaped
    changed = sum(bool(v.changed) for v in ran)
    rows = [
        ("catalogue entries run (bad inputs and states)", len(ran), ""),
        ("fuzz inputs tried", fuzz_tried, ""),
        ("inputs tried (total)", len(ran) + fuzz_tried, ""),
        ("tracebacks / unexpected exceptions", tracebacks, "must be 0"),
        ("refusals that changed something", changed, "must be 0"),
        ("entries with a wrong exit code or message", len(unexpected) - changed, "must be 0"),
        ("known bugs (strict xfail, reported)", len(known), ""),
        ("catalogue entries skipped (command missing)", len(skipped), ""),
        ("SIGKILL runs: pointer writes", pointer_kills.runs, ""),
        (
            "  killed before any change / after the commit",
            pointer_kills.untouched,
            f"/ {pointer_kills.committed}",
        ),
        (
            "  whole pointer left uncommitted (next command refuses)",
            pointer_kills.leftover_file,
            "",
        ),
        ("  temporary file left (removed by the next command)", pointer_kills.temp_files, ""),
        (
            "  stale index.lock left / clear error after it",
            pointer_kills.index_locks,
            f"/ {pointer_kills.lock_errors_clear}",
        ),
        ("  torn states", pointer_kills.torn, "must be 0"),
        (
            "SIGKILL runs: sync",
            sync_kills.runs,
            f"old {sync_kills.old_state} / new {sync_kills.new_state}",
        ),
        ("  store mixed (neither old nor new)", sync_kills.mixed, "must be 0"),
        (
            "concurrent writers x rounds",
            writers.processes * writers.rounds,
            f"{writers.processes} x {writers.rounds}",
        ),
        ("  lost updates", writers.lost_updates, "must be 0"),
        ("SIGINT runs / not exit 130 or changed something", len(interrupts), f"/ {bad_interrupts}"),
    ]
    width = max(len(name) for name, _, _ in rows)
    print(f"{'measure':<{width}}  {'count':>7}  note")
    for name, count, note in rows:
        print(f"{name:<{width}}  {count:>7}  {note}")
    print(f"\n{time.monotonic() - started:.0f} s; skipped: {', '.join(skipped) or 'none'}")
    for problem in problems[:20]:
        print(f"problem: {problem}", file=sys.stderr)
    must_be_zero = (
        tracebacks
        + changed
        + (len(unexpected) - changed)
        + pointer_kills.torn
        + sync_kills.mixed
        + writers.lost_updates
        + bad_interrupts
    )
    return 1 if must_be_zero else 0


if __name__ == "__main__":
    raise SystemExit(main())
