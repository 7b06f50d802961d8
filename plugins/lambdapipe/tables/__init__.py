"""Analytics tables: Apache Iceberg tables that task outputs land in, exactly once per run.

One module per job: ``config`` (where the catalog and warehouse are), ``definitions`` (table definitions and their registry),
``catalog`` (open it, create tables idempotently), ``conform`` (shape Arrow data or XCom rows to a
table), ``writer`` (the exactly-once commit), ``evolution`` (add columns safely), ``query`` (read,
time travel, SQL), ``maintenance`` (expire snapshots, remove orphan files). Importing this package
is free: pyiceberg and pyarrow are imported only by the functions that use them.
"""
