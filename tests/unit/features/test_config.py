"""The features function's configuration: defaults, bounds, and a REDIS_URL never quoted."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest
import redis

from event_capture.features.config import (
    CONFIG_VARIABLES,
    FeaturesConfig,
    load_features_config,
    redis_client,
)
from event_capture.platform.config import ConfigError


def test_the_defaults() -> None:
    assert load_features_config({}) == FeaturesConfig(
        redis_url="redis://127.0.0.1:6379/0",
        redis_timeout_seconds=0.1,
        redis_activity_length=100,
    )


def test_empty_values_are_the_defaults() -> None:
    env = {"REDIS_URL": "", "REDIS_TIMEOUT_SECONDS": " ", "REDIS_ACTIVITY_LENGTH": ""}

    assert load_features_config(env) == load_features_config({})


def test_values_are_read() -> None:
    env = {
        "REDIS_URL": "rediss://:pw@10.8.0.3:6378/1",
        "REDIS_TIMEOUT_SECONDS": "0.25",
        "REDIS_ACTIVITY_LENGTH": "250",
    }

    assert load_features_config(env) == FeaturesConfig(
        redis_url="rediss://:pw@10.8.0.3:6378/1",
        redis_timeout_seconds=0.25,
        redis_activity_length=250,
    )


@pytest.mark.parametrize("url", ["redis://h:6379/0", "rediss://h:6380/0", "unix:///run/r.sock"])
def test_every_redis_scheme_is_accepted(url: str) -> None:
    assert load_features_config({"REDIS_URL": url}).redis_url == url


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("REDIS_TIMEOUT_SECONDS", "0.01", 0.01),
        ("REDIS_TIMEOUT_SECONDS", "30", 30.0),
        ("REDIS_ACTIVITY_LENGTH", "1", 1),
        ("REDIS_ACTIVITY_LENGTH", "10000", 10_000),
    ],
)
def test_the_bounds_are_inclusive(name: str, value: str, expected: float) -> None:
    config = load_features_config({name: value})

    assert getattr(config, name.lower()) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REDIS_TIMEOUT_SECONDS", "0.009"),
        ("REDIS_TIMEOUT_SECONDS", "30.5"),
        ("REDIS_TIMEOUT_SECONDS", "0"),
        ("REDIS_TIMEOUT_SECONDS", "-1"),
        ("REDIS_TIMEOUT_SECONDS", "nan"),
        ("REDIS_TIMEOUT_SECONDS", "inf"),
        ("REDIS_TIMEOUT_SECONDS", "100ms"),
        ("REDIS_ACTIVITY_LENGTH", "0"),
        ("REDIS_ACTIVITY_LENGTH", "10001"),
        ("REDIS_ACTIVITY_LENGTH", "ten"),
    ],
)
def test_a_value_out_of_bounds_stops_start_up_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{name}: must be"):
        load_features_config({name: value})


@pytest.mark.parametrize(
    "url", ["http://:hunter2@10.8.0.3:6379/0", "hunter2", "10.8.0.3:6379", " redis://h:6379"]
)
def test_a_bad_redis_url_is_refused_without_quoting_it(url: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_features_config({"REDIS_URL": url})

    message = str(raised.value)
    assert message.startswith("REDIS_URL: must start with redis://, rediss:// or unix://")
    assert "hunter2" not in message and "10.8.0.3" not in message


class Recording(Mapping[str, str]):
    """An environment that notes every variable asked for."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        raise KeyError(key)

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(key)
        return default

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def test_config_variables_are_exactly_the_variables_read() -> None:
    # The local cloud withholds these from a shell's leftovers; one read but not listed leaks.
    env = Recording()

    load_features_config(env)

    assert env.asked == CONFIG_VARIABLES


def test_the_client_times_out_after_the_configured_seconds_without_connecting() -> None:
    config = load_features_config({"REDIS_TIMEOUT_SECONDS": "0.2"})

    client = redis_client(config)
    assert isinstance(client, redis.Redis)
    kwargs = client.connection_pool.connection_kwargs

    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (0.2, 0.2)
