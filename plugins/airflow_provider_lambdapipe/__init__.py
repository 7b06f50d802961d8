"""The import name Airflow derives from the distribution name ``airflow-provider-lambdapipe``.

Airflow 3 looks for each installed provider's ``example_dags`` folder by importing the distribution
name with dashes turned into underscores (apache/airflow#66305), and logs an error with a traceback
on CLI calls when that import fails while example DAGs are on (Airflow's default). This package only
makes the name resolve: the provider itself is ``lambdapipe``, and it ships no example DAGs here
(the project's pipelines live in its ``dags/`` folder).
"""
