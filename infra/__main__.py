"""Entry point for ``pulumi up``: read the stack's settings, declare the stack, export outputs."""

import sys
from pathlib import Path

# Pulumi runs this file from infra/; the program imports `infra.*` and the repository's
# `schemas` package (the table definitions), both found from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.settings import settings_from_stack
from infra.stack import build_stack

build_stack(settings_from_stack()).export()
