"""Entry point for ``pulumi preview --policy-pack infra/policy``."""

import sys
from pathlib import Path

# Pulumi runs this from infra/policy; the rules are imported as `infra.policy.rules`, as the
# tests do. Nothing else of the program is imported, so the pack needs only pulumi-policy.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from infra.policy.pack import policy_pack

policy_pack()
