"""Entry point for ``pulumi up``: read the stack's settings, declare the stack, export outputs.

Pulumi runs this with ``infra/.venv``'s Python (``Pulumi.yaml``), whose ``event-capture.pth``
(written by ``make deploy-venvs``) puts the repository root and the ``event_capture`` source
roots on the path, so ``infra.*`` and the table definitions import as they do in the tests.
"""

from infra.settings import settings_from_stack
from infra.stack import build_stack

build_stack(settings_from_stack()).export()
