"""``make fuzz``: both fuzzers, one after the other, and one summary; exit 1 on any finding.

1. The saved regressions (fuzz/regressions/, inputs that once broke the parse-and-validate
   invariant) are replayed: each one still failing is a finding.
2. atheris runs fuzz/parse_and_validate.py for ``--seconds`` on the seeds that fuzz/seeds.py
   writes and on the corpus earlier runs grew (.cache/fuzz/corpus/, kept between runs).
3. fuzz/schemathesis_run.py starts the local cloud and the function and runs schemathesis from
   functions/capture/openapi.json, ``--examples`` per phase, within ``--seconds``.

    .venv-fuzz/bin/python -m fuzz.run [--seconds 300] [--examples 100] [--only atheris]

To keep a finding as a regression: copy its .input and .txt (the traceback) from
.cache/fuzz/findings/ into fuzz/regressions/, and write the unit test that shows the fix.
"""

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from fuzz.seeds import write_corpus, write_dictionary

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / ".cache" / "fuzz"
SEEDS, CORPUS, DICTIONARY = WORK / "seeds", WORK / "corpus", WORK / "event.dict"
FINDINGS, ARTIFACTS, PREVIOUS = WORK / "findings", WORK / "artifacts", WORK / "previous-findings"
REGRESSIONS = REPO / "fuzz" / "regressions"
# Over MAX_EVENT_BYTES, so one event can be too large; libFuzzer grows inputs towards it.
MAX_LEN = 48 * 1024
# Seconds one input may take; beyond it libFuzzer stops with a timeout- artifact.
INPUT_TIMEOUT = 10
# libFuzzer's progress lines for every new corpus unit; they go to the log only.
_CHATTER = re.compile(r'^#\d+\s+(NEW|REDUCE)\s|^INFO: Instrumenting |^"|^###### ')


def _python(module: str, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO, text=True, check=False, **kwargs
    )


def replay_regressions() -> list[dict[str, Any]]:
    files = sorted(str(path) for path in REGRESSIONS.glob("*.input"))
    if not files:
        return []
    done = _python("fuzz.parse_and_validate", "--replay", *files, capture_output=True)
    outcomes = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if len(outcomes) != len(files):
        sys.stderr.write(done.stderr)
        raise RuntimeError("replaying fuzz/regressions failed; see above")
    return outcomes


def _carry_over() -> int:
    """Earlier runs' findings become inputs of this one: found again while not fixed."""
    for directory in (FINDINGS, ARTIFACTS, PREVIOUS):
        directory.mkdir(parents=True, exist_ok=True)
    for old in PREVIOUS.glob("*"):
        old.unlink()
    for found in [*FINDINGS.glob("*.input"), *ARTIFACTS.glob("*")]:
        found.rename(PREVIOUS / found.name)
    for old in FINDINGS.glob("*"):
        old.unlink()
    return len(list(PREVIOUS.glob("*")))


def run_atheris(seconds: int) -> dict[str, Any]:
    carried = _carry_over()
    CORPUS.mkdir(parents=True, exist_ok=True)
    print(f"seeds: {write_corpus(SEEDS)} in {SEEDS}; dictionary: {write_dictionary(DICTIONARY)}")
    if carried:
        print(f"earlier findings run again: {carried} in {PREVIOUS}")
    corpora = [CORPUS, SEEDS, PREVIOUS]
    corpora += [REGRESSIONS] if any(REGRESSIONS.glob("*.input")) else []
    argv = [
        sys.executable,
        "-m",
        "fuzz.parse_and_validate",
        *map(str, corpora),
        f"-dict={DICTIONARY}",
        f"-max_total_time={seconds}",
        f"-max_len={MAX_LEN}",
        f"-timeout={INPUT_TIMEOUT}",
        f"-artifact_prefix={ARTIFACTS}/",
        "-print_final_stats=1",
    ]
    log_path = WORK / "atheris.log"
    stats: dict[str, Any] = {"log": str(log_path)}
    with log_path.open("w") as log:
        process = subprocess.Popen(
            argv,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            if not _CHATTER.search(line):
                print(f"  {line}", end="", flush=True)
            if match := re.match(r"stat::(\w+):\s+(\d+)", line):
                stats[match.group(1)] = int(match.group(2))
            elif match := re.match(r"Done (\d+) runs in (\d+) second", line):
                stats.setdefault("number_of_executed_units", int(match.group(1)))
            elif match := re.search(r"\scorp: (\d+)/", line):
                stats["corpus"] = int(match.group(1))
        stats["exit_code"] = process.wait()
    stats["findings"] = [
        {"finding": path.read_text().splitlines()[0], "input": str(path.with_suffix(".input"))}
        for path in sorted(FINDINGS.glob("*.txt"))
    ]
    # A timeout, out-of-memory or a crash the harness could not catch (libFuzzer's artifacts).
    stats["findings"] += [
        {"finding": f"libFuzzer {path.name.split('-')[0]}", "input": str(path)}
        for path in sorted(ARTIFACTS.glob("*"))
    ]
    if stats["exit_code"] != 0 and not stats["findings"]:
        stats["findings"].append(
            {"finding": f"fuzzer exited {stats['exit_code']}", "input": str(log_path)}
        )
    return stats


def run_schemathesis(seconds: int, examples: int) -> dict[str, Any]:
    summary = WORK / "schemathesis-summary.json"
    summary.unlink(missing_ok=True)
    args = ["--max-examples", str(examples), "--max-time", str(seconds), "--summary", str(summary)]
    done = _python("fuzz.schemathesis_run", *args)
    if not summary.exists():
        return {"findings": 1, "requests": 0, "failed_to_run": done.returncode}
    result: dict[str, Any] = json.loads(summary.read_text())
    return result


def _statuses(result: dict[str, Any]) -> str:
    counts = result.get("statuses", {})
    return ", ".join(f"{status}: {count}" for status, count in counts.items()) or "none"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=300, help="for each fuzzer")
    parser.add_argument("--examples", type=int, default=100, help="schemathesis, per phase")
    parser.add_argument("--only", choices=["atheris", "schemathesis"])
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    findings = 0

    if args.only != "schemathesis":
        print("== regressions: fuzz/regressions/", flush=True)
        outcomes = replay_regressions()
        failing = [o for o in outcomes if not o["ok"]]
        findings += len(failing)
        lines.append(f"regressions: {len(outcomes)} replayed, {len(failing)} still failing")
        lines += [f"  FINDING {o['finding']} <- {o['path']}" for o in failing]

        print(f"== atheris: parse_body + validate_events for {args.seconds} s", flush=True)
        stats = run_atheris(args.seconds)
        known = {o["finding"] for o in failing}
        new = [f for f in stats["findings"] if f["finding"] not in known]
        findings += len(new)
        executions = stats.get("number_of_executed_units", 0)
        lines.append(
            f"atheris: {executions} executions ({stats.get('average_exec_per_sec', 0)}/s), "
            f"corpus {stats.get('corpus', 0)} inputs, {len(stats['findings'])} finding(s), "
            f"{len(new)} new; log {stats['log']}"
        )
        lines += [
            f"  FINDING {f['finding']} -> {f['input']}"
            + (" (known regression)" if f["finding"] in known else "")
            for f in stats["findings"]
        ]

    if args.only != "atheris":
        print(f"== schemathesis: POST / from {REPO / 'functions/capture/openapi.json'}", flush=True)
        result = run_schemathesis(args.seconds, args.examples)
        findings += result["findings"]
        lines.append(
            f"schemathesis: {result['requests']} requests "
            f"({result.get('test_cases', 0)} test cases), by status {_statuses(result)}, "
            f"{result['findings']} finding(s)"
        )
        lines += [f"  FINDING {problem}" for problem in result.get("document_problems", [])]
        lines += [f"  FINDING {failure}" for failure in result.get("failures", [])]
        if result.get("failed_to_run") is not None:
            lines.append(f"  FINDING schemathesis run failed (exit {result['failed_to_run']})")

    print("\n== fuzz summary")
    print("\n".join(lines))
    print(f"{findings} finding(s)" + (": make fuzz fails" if findings else ""))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
