"""make run's cloud settings (localcloud/run.py) from its environment."""

from localcloud.run import run_settings


def test_make_run_passes_the_write_api_switch_to_its_functions_and_fixes_the_grpc_port() -> None:
    settings = run_settings({"BIGQUERY_WRITE_API": "true", "BIGQUERY_EMULATOR_GRPC_PORT": "9161"})

    assert settings.function_env == {"BIGQUERY_WRITE_API": "true"}
    assert settings.bigquery_grpc_port == 9161
    # Negative control: unset, the functions keep their own default.
    assert run_settings({}).function_env == {}
    assert run_settings({}).bigquery_grpc_port == 9060
