"""collector.function: the deployable collector function, beside the capture function it runs
the pipeline of."""

from __future__ import annotations

from pathlib import Path

from localcloud.processes import CAPTURE_SOURCE, COLLECTOR_SOURCE


def test_the_collector_deploys_with_the_capture_functions_pins_and_its_own_after() -> None:
    def pins(path: Path) -> list[str]:
        return [line for line in path.read_text().splitlines() if not line.startswith("#")]

    capture = pins(CAPTURE_SOURCE.with_name("requirements.txt"))
    collector = pins(COLLECTOR_SOURCE.with_name("requirements.txt"))
    assert collector[: len(capture)] == capture
    assert [pin.split("==")[0] for pin in collector[len(capture) :]] == ["crawler-user-agents"]
