"""Regenerate the tables' JSON from the schemas: ``python -m event_capture.tables.generate``.

Refuses a change that BigQuery could not apply in place; ``--check`` only reports drift (CI).
"""

import argparse
import json
import sys
from typing import Any

from event_capture.schemas.families import FAMILIES
from event_capture.tables.bigquery_schema import additive_problems, table_definition
from event_capture.tables.definitions import TABLES_DIR, table_path


def render(definition: dict[str, Any]) -> str:
    return json.dumps(definition, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if any file is out of date")
    args = parser.parse_args(argv)
    TABLES_DIR.mkdir(exist_ok=True)
    failed = False
    for model in FAMILIES:
        definition = table_definition(model)
        path = table_path(model.TABLE)
        text = render(definition)
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        if args.check:
            print(f"{path}: out of date with {model.__name__}; run make schemas")
            failed = True
            continue
        if current is not None:
            problems = additive_problems(
                json.loads(current)["schema"]["fields"], definition["schema"]["fields"]
            )
            if problems:
                print(
                    f"{path}: not an additive change ({'; '.join(problems)}); "
                    "a breaking change needs a new major schema version and table"
                )
                failed = True
                continue
        path.write_text(text)
        print(f"wrote {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
