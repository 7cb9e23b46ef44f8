"""The test suites. The unit and client test folders are packages: pytest's default import mode
then imports ``tests/unit/collector/test_config.py`` as ``tests.unit.collector.test_config``, so
test files of one name in different folders are different modules, named as mypy and every
``from tests... import`` name them (one module object per file)."""
