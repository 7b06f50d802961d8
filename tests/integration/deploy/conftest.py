"""Deploy tests run against the session's in-process local AWS stack (tests/conftest.py), reset per test.

Two ways to reach it, as in production: the AWS environment variables (``AWS_ENDPOINT_URL``; the CLI
and ``FunctionDeployer`` with ``aws_conn_id=None``; the ``aws_environment`` and ``deploy`` fixtures
of tests/conftest.py) or the ``aws_default`` Airflow connection (operators under ``dag.test()``).
"""
