"""load_guard_config: the guard's variables, their defaults, and errors that name the variable."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from event_capture.cost_guard.config import GUARD_CONFIG_VARIABLES, load_guard_config
from event_capture.ingest.config import CONFIG_VARIABLES
from event_capture.platform.config import ConfigError

MINIMAL = {
    "GCP_PROJECT": "shop-analytics",
    "GCS_BUCKET": "shop-events",
    "CAPTURE_MODE_BUCKET": "shop-capture-control",
}
Q1 = "projects/shop-analytics/locations/eu/transferConfigs/nightly-search"
Q2 = "projects/shop-analytics/locations/eu/transferConfigs/6a1f0c2e-0000-2b7e"


def env(**overrides: str) -> dict[str, str]:
    merged = {**MINIMAL, **overrides}
    return {name: value for name, value in merged.items() if value != "<unset>"}


def refusal(variables: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as raised:
        load_guard_config(variables)
    return str(raised.value)


def test_defaults() -> None:
    config = load_guard_config(MINIMAL)

    assert config.capture_mode_bucket == "shop-capture-control"
    assert config.gcs_bucket == "shop-events"
    assert config.settings.threshold == 1.0
    assert config.settings.queries == ()
    assert config.data_transfer_endpoint is None


def test_the_mode_bucket_is_required() -> None:
    assert refusal(env(CAPTURE_MODE_BUCKET="<unset>")).startswith("CAPTURE_MODE_BUCKET: required")
    assert refusal(env(CAPTURE_MODE_BUCKET="")).startswith("CAPTURE_MODE_BUCKET: required")


def test_the_archive_bucket_is_required() -> None:
    assert refusal(env(GCS_BUCKET="<unset>")).startswith("GCS_BUCKET: required")


def test_an_archive_switched_off_is_refused_naming_the_mode_bucket() -> None:
    assert refusal(env(GCS_ENABLED="false")).startswith("CAPTURE_MODE_BUCKET: ")


def test_scheduled_queries_are_a_comma_separated_list_of_full_names() -> None:
    config = load_guard_config(env(SCHEDULED_QUERIES=f" {Q1} ,{Q2},, "))

    assert config.settings.queries == (Q1, Q2)


@pytest.mark.parametrize(
    "queries",
    [
        pytest.param("nightly-search", id="bare-id"),
        pytest.param("projects/shop-analytics/transferConfigs/abc", id="no-location"),
        pytest.param("projects/shop-analytics/locations/eu/transferConfigs", id="no-id"),
        pytest.param(f"{Q1}/runs/123", id="a-run"),
        pytest.param("project/shop-analytics/locations/eu/transferConfigs/a", id="project"),
        pytest.param("projects/shop-analytics/locations/eu/dataSources/a", id="data-source"),
        pytest.param(f"{Q1},nightly-orders", id="second-bad"),
        pytest.param(f"{Q1};{Q2}", id="semicolon"),
        pytest.param(
            "projects/shop-analytics/zones/eu/transferConfigs/a",
            id="zones",
        ),
        pytest.param(
            "projects//locations//transferConfigs/a",
            id="empty-segments",
        ),
    ],
)
def test_a_malformed_scheduled_query_names_the_variable_and_the_format(queries: str) -> None:
    text = refusal(env(SCHEDULED_QUERIES=queries))

    assert text == (
        "SCHEDULED_QUERIES: each must be "
        "projects/<project>/locations/<location>/transferConfigs/<id>"
    )


@pytest.mark.parametrize(("raw", "threshold"), [("0.5", 0.5), ("0.01", 0.01), ("1.2", 1.2)])
def test_the_threshold_is_a_share_of_the_budget(raw: str, threshold: float) -> None:
    assert load_guard_config(env(GUARD_THRESHOLD=raw)).settings.threshold == threshold


@pytest.mark.parametrize("raw", ["0", "0.001", "-1", "101", "half", "50%"])
def test_a_threshold_out_of_range_names_the_variable(raw: str) -> None:
    assert refusal(env(GUARD_THRESHOLD=raw)).startswith("GUARD_THRESHOLD: must be ")


@pytest.mark.parametrize(
    ("overrides", "settle"),
    [
        pytest.param({}, 30.0 + 30.0 + 10, id="defaults"),
        pytest.param(
            {"CAPTURE_MODE_TTL_SECONDS": "5", "REQUEST_DEADLINE_SECONDS": "20"},
            5.0 + 20.0 + 10,
            id="from-capture",
        ),
        pytest.param({"CAPTURE_MODE_TTL_SECONDS": "0.5"}, 0.5 + 30.0 + 10, id="short-ttl"),
    ],
)
def test_the_settle_time_is_the_mode_ttl_plus_a_request_plus_ten_seconds(
    overrides: dict[str, str], settle: float
) -> None:
    assert load_guard_config(env(**overrides)).settings.settle_seconds == settle


def test_the_settle_time_can_be_set() -> None:
    assert load_guard_config(env(GUARD_SETTLE_SECONDS="3")).settings.settle_seconds == 3.0
    assert load_guard_config(env(GUARD_SETTLE_SECONDS="0")).settings.settle_seconds == 0.0


@pytest.mark.parametrize("raw", ["-1", "481", "soon"])
def test_a_bad_settle_time_names_the_variable(raw: str) -> None:
    assert refusal(env(GUARD_SETTLE_SECONDS=raw)).startswith("GUARD_SETTLE_SECONDS: ")


def test_the_data_transfer_endpoint_is_passed_through() -> None:
    config = load_guard_config(env(DATA_TRANSFER_ENDPOINT="http://127.0.0.1:8099"))

    assert config.data_transfer_endpoint == "http://127.0.0.1:8099"
    assert load_guard_config(env(DATA_TRANSFER_ENDPOINT="")).data_transfer_endpoint is None


class Recording(Mapping[str, str]):
    """An environment that remembers every name looked up."""

    def __init__(self, variables: dict[str, str]) -> None:
        self._variables = variables
        self.asked: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        return self._variables[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._variables)

    def __len__(self) -> int:
        return len(self._variables)


def test_every_variable_read_is_listed_for_the_local_cloud() -> None:
    """localcloud keeps a shell's leftovers of exactly these out of the guard it starts."""
    recorded = Recording(env(SCHEDULED_QUERIES=Q1))

    load_guard_config(recorded)

    assert recorded.asked <= CONFIG_VARIABLES | GUARD_CONFIG_VARIABLES
    assert recorded.asked >= GUARD_CONFIG_VARIABLES
