"""The steps of the shipped pipelines, importable by DAGs, tests and `airflow tasks test` alike."""
