"""Provider metadata, read by Airflow through the ``apache_airflow_provider`` entry point.

Airflow loads this while it initialises its configuration, in every process (CLI, scheduler, workers),
so it must import nothing beyond the package version. The dict is validated against Airflow's
``provider_info.schema.json``. The plugin is registered by the ``airflow.plugins`` entry point and
deliberately not listed under ``plugins`` here: with ``[core] lazy_load_plugins = False`` Airflow
would load it a second time through the provider and record a duplicate-plugin import error.
"""

from __future__ import annotations

from typing import Any

from lambdapipe import __version__


def get_provider_info() -> dict[str, Any]:
    """Describe the provider for ``airflow providers list`` and the ProvidersManager."""
    return {
        "package-name": "airflow-provider-lambdapipe",
        "name": "lambdapipe",
        "description": (
            "Event-driven pipelines on AWS Lambda: operators, sensors and triggers for Apache Airflow 3, "
            "with a local AWS stack that really runs Lambda code."
        ),
        "versions": [__version__],
        "extra-links": [
            "lambdapipe.links.LambdaFunctionLink",
            "lambdapipe.links.LambdaInvocationLogsLink",
        ],
        "connection-types": [],
        "config": {
            "lambdapipe": {
                "description": "Settings of the lambdapipe provider.",
                "options": {
                    "ui_aws_conn_id": {
                        "description": (
                            "The AWS connection the Lambda view (on the API server) reads Lambda and "
                            "CloudWatch Logs through. Grant it read-only access: lambda:GetFunction, "
                            "lambda:ListAliases, lambda:ListVersionsByFunction, logs:FilterLogEvents."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "aws_lambda_view",
                        "default": "aws_default",
                    },
                    "record_invocations": {
                        "description": (
                            "Whether LambdaInvokeOperator and LambdaMapOperator record their invocations "
                            "in the lambda_invocations table (read by the Lambda view and cost reports). "
                            "An operator's record_invocations argument overrides it."
                        ),
                        "version_added": "0.1.0",
                        "type": "boolean",
                        "example": "False",
                        "default": "True",
                    },
                    "tables_catalog_uri": {
                        "description": (
                            "SQLAlchemy URL of the Iceberg SQL catalog (unset: SQLite at $AIRFLOW_HOME/lambdapipe/catalog.db, one machine only)."
                            " The connection lambdapipe_tables (extra) overrides it."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "postgresql+psycopg2://user:pw@db:5432/catalog",
                        "default": None,
                    },
                    "tables_warehouse": {
                        "description": (
                            "Where the tables' files live."
                            " The connection lambdapipe_tables (extra) overrides it."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "s3://analytics/warehouse",
                        "default": "s3://lambdapipe-tables/warehouse",
                    },
                    "tables_namespace": {
                        "description": (
                            "The catalog namespace of the tables."
                            " The connection lambdapipe_tables (extra) overrides it."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "analytics",
                        "default": "lambdapipe",
                    },
                    "tables_catalog_type": {
                        "description": (
                            "sql (a SQLAlchemy database) or glue (the AWS Glue Data Catalog)."
                            " The connection lambdapipe_tables (extra) overrides it."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "glue",
                        "default": "sql",
                    },
                    "tables_catalog_name": {
                        "description": (
                            "The pyiceberg catalog's name."
                            " The connection lambdapipe_tables (extra) overrides it."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "analytics",
                        "default": "lambdapipe",
                    },
                    "tables_aws_conn_id": {
                        "description": (
                            "The AWS connection the warehouse (and Glue) is reached through."
                            " The connection lambdapipe_tables (extra) overrides it."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "aws_tables",
                        "default": "aws_default",
                    },
                    "tables_region_name": {
                        "description": (
                            "AWS region of the warehouse (unset: the connection's)."
                            " The connection lambdapipe_tables (extra) overrides it."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "eu-west-1",
                        "default": None,
                    },
                    "tables_create_bucket": {
                        "description": (
                            "Create the warehouse bucket when missing (the local stack starts empty)."
                            " The connection lambdapipe_tables (extra) overrides it."
                        ),
                        "version_added": "0.1.0",
                        "type": "boolean",
                        "example": "True",
                        "default": "False",
                    },
                    **{
                        f"price_gb_second_{architecture}": {
                            "description": (
                                f"USD per GB-second of Lambda on {architecture}, for the cost figures "
                                "(unset: the public on-demand price in us-east-1)."
                            ),
                            "version_added": "0.1.0",
                            "type": "float",
                            "example": "0.0000133334",
                            "default": None,
                        }
                        for architecture in ("x86_64", "arm64")
                    },
                    "price_per_request": {
                        "description": (
                            "USD per Lambda request, for the cost figures (unset: the public price, "
                            "0.20 per million)."
                        ),
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "0.0000002",
                        "default": None,
                    },
                    "table_definitions": {
                        "description": (
                            "Modules (comma-separated) that each define TABLES, a sequence of "
                            "lambdapipe.tables.definitions.TableSpec: the project's analytics tables, "
                            "known to commit_rows, the table_maintenance DAG and 'lambdapipe tables'. "
                            "The provider's own table, lambda_invocations, is always registered."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "my_project.tables",
                        "default": "",
                    },
                },
            },
        },
    }
