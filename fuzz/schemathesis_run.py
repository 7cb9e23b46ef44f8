"""Schemathesis against the real capture function, on the local cloud, from its OpenAPI document.

Checks the committed functions/capture/openapi.json first (openapi-spec-validator, and a sample
event of every type against its request schema with jsonschema), then starts the BigQuery and
GCS emulators and the function (``LocalCloud``) and runs the schemathesis CLI with these checks:
no 5xx (a 503 counts: the emulators are up, so a valid event that is not stored is a bug),
every status documented, JSON content type, documented headers, and the response schemas.
Positive and negative cases, in the examples, coverage and fuzzing phases.

    .venv-fuzz/bin/python fuzz/schemathesis_run.py [--max-examples N] [--max-time S] [--url URL]

Prints the number of requests by status and the failures; exits 1 on any failure. The reports
(HAR of every request, JSON run report, a pytest file that reproduces each failure) are written
to .cache/fuzz/schemathesis/.
"""

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import referencing
from openapi_spec_validator import validate
from referencing.jsonschema import DRAFT202012

from event_capture.ingest.openapi import DOCUMENT_PATH, openapi_document
from event_capture.schemas.families import MODEL_BY_EVENT_TYPE
from localcloud.cloud import CloudSettings, LocalCloud
from localcloud.sample_events import sample_batch, sample_event

REPO = Path(__file__).resolve().parents[1]
REPORTS = REPO / ".cache" / "fuzz" / "schemathesis"
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)


def check_document() -> list[str]:
    """Problems with the committed document; empty when it is valid and takes the samples."""
    document = json.loads(DOCUMENT_PATH.read_text())
    problems = []
    if document != openapi_document():
        problems.append(f"{DOCUMENT_PATH} drifted: run python -m event_capture.ingest.openapi")
    validate(document)
    registry = referencing.Registry().with_resource(
        "urn:capture", DRAFT202012.create_resource(document)
    )
    validator = jsonschema.Draft202012Validator(
        {"$ref": "urn:capture#/components/schemas/CaptureRequest"},
        registry=registry,
        format_checker=jsonschema.FormatChecker(),
    )
    bodies = {t: sample_event(t) for t in MODEL_BY_EVENT_TYPE} | {
        "batch": {"events": sample_batch(20)}
    }
    for name, body in bodies.items():
        problems += [f"sample {name}: {error.message}" for error in validator.iter_errors(body)]
    return problems


def _newest(pattern: str) -> Path | None:
    found = sorted(REPORTS.glob(pattern), key=lambda path: path.stat().st_mtime)
    return found[-1] if found else None


def run_schemathesis(url: str, args: argparse.Namespace) -> dict[str, Any]:
    for old in REPORTS.glob("*"):
        if old.is_file():
            old.unlink()
    REPORTS.mkdir(parents=True, exist_ok=True)
    argv = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(REPO / "fuzz" / "schemathesis.toml"),
        "run",
        str(DOCUMENT_PATH),
        "--url",
        url,
        "--checks",
        ",".join(CHECKS),
        "--mode",
        "all",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(args.max_examples),
        "--max-time",
        str(args.max_time),
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "har,json,pytest",
        "--report-dir",
        str(REPORTS),
        *(["--seed", str(args.seed)] if args.seed is not None else []),
    ]
    print("$", " ".join(argv[1:]), flush=True)
    done = subprocess.run(argv, cwd=REPO, check=False)
    report_path, har_path = _newest("json-*.json"), _newest("har-*.json")
    report = json.loads(report_path.read_text()) if report_path else {}
    statuses: Counter[int] = Counter()
    if har_path:
        for entry in json.loads(har_path.read_text())["log"]["entries"]:
            statuses[entry["response"]["status"]] += 1
    cases = report.get("test_cases", {})
    return {
        "exit_code": done.returncode,
        "requests": sum(statuses.values()),
        "statuses": dict(sorted(statuses.items())),
        "test_cases": cases.get("generated", 0),
        "unique_failures": cases.get("unique_failures", 0),
        "errors": len(report.get("errors", [])),
        "failures": [_failure(failure) for failure in report.get("failures", [])],
        "reproduce": str(_newest("*.py") or ""),
    }


def _failure(failure: Any) -> str:
    # e.g. {"code": "ST103", "title": "Undocumented status code", "count": 1, "operations": [...]}
    if not isinstance(failure, dict):
        return str(failure)
    operations = ", ".join(failure.get("operations", []))
    return f"{failure.get('code')} {failure.get('title')} x{failure.get('count', 1)} ({operations})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-examples", type=int, default=100, help="per phase and mode")
    parser.add_argument("--max-time", type=int, default=300, help="seconds for the whole run")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--url", help="test a function already running there instead")
    parser.add_argument("--summary", type=Path, help="also write the summary here, as JSON")
    args = parser.parse_args(argv)

    problems = check_document()
    for problem in problems:
        print(f"FINDING openapi: {problem}", flush=True)
    if args.url:
        result = run_schemathesis(args.url, args)
    else:
        settings = CloudSettings(
            project="fuzz", bucket="fuzz-events", log_dir=REPORTS.parent / "logs"
        )
        with LocalCloud(settings) as cloud:
            function = cloud.start_function()
            print(f"capture function on {function.url} (log: {settings.log_dir})", flush=True)
            result = run_schemathesis(function.url, args)
    result["document_problems"] = problems
    findings = len(problems) + result["unique_failures"] + result["errors"]
    if result["exit_code"] != 0 and not findings:
        findings = 1  # schemathesis failed in a way its report does not count
    result["findings"] = findings
    print(
        f"schemathesis: {result['requests']} requests ({result['test_cases']} test cases), "
        f"by status {result['statuses']}; {findings} finding(s)"
    )
    for failure in result["failures"]:
        print(f"FINDING schemathesis: {failure}")
    if findings and result["reproduce"]:
        print(f"reproduce with: .venv-fuzz/bin/python -m pytest {result['reproduce']}")
    if args.summary:
        args.summary.write_text(json.dumps(result, indent=2) + "\n")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
