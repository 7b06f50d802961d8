"""The demo application: the shipped pipelines' steps, their tables and settings.

Not part of the provider's wheel: DAGs import it from the plugins folder, and the provider learns
its tables through ``[lambdapipe] table_definitions = lambdapipe_demo.tables``.
"""
