"""make run's cloud settings (localcloud/run.py) from its environment."""

import socket

import pytest

from localcloud.run import run_settings, running_cloud


def test_make_run_passes_the_write_api_switch_to_its_functions_and_fixes_the_grpc_port() -> None:
    settings = run_settings({"BIGQUERY_WRITE_API": "true", "BIGQUERY_EMULATOR_GRPC_PORT": "9161"})

    assert settings.function_env == {"BIGQUERY_WRITE_API": "true"}
    assert settings.bigquery_grpc_port == 9161
    # Negative control: unset, the functions keep their own default.
    assert run_settings({}).function_env == {}
    assert run_settings({}).bigquery_grpc_port == 9060


def test_a_tool_finds_make_runs_cloud_by_its_ports_and_redis_only_when_it_runs() -> None:
    with socket.socket() as gcs, socket.socket() as redis_port, socket.socket() as closed:
        for listener in (gcs, redis_port, closed):
            listener.bind(("127.0.0.1", 0))
        gcs.listen()
        redis_port.listen()
        free = closed.getsockname()[1]
        ports = {"GCS_EMULATOR_PORT": str(gcs.getsockname()[1])}

        _, with_redis = running_cloud({**ports, "REDIS_PORT": str(redis_port.getsockname()[1])})
        _, without = running_cloud({**ports, "REDIS_PORT": str(free)})
        with pytest.raises(ValueError, match=f"no fake-gcs-server on 127.0.0.1:{free}; make run"):
            running_cloud({"GCS_EMULATOR_PORT": str(free)})

    assert (with_redis, without) == ({"REDIS_ENABLED": "true"}, {"REDIS_ENABLED": "false"})
