"""The unit tests' shared parametrization (the fixtures shared by every suite are in
tests/conftest.py)."""

import pytest

from tests.unit.schemas import rejections


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # The rejection tests a schema module imports, with that module's own cases.
    rejections.parametrize(metafunc)
