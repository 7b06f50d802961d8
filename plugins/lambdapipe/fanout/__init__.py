"""Fan-out of one Lambda function over many items inside one Airflow task (LambdaMapOperator).

``items`` resolves where the items come from, ``batching`` groups them into invocation payloads,
``run_store`` keeps the input and every result in S3 (so a retried task resumes), ``concurrency``
adapts the number of invocations in flight to throttling, ``engine`` runs it all with
aiobotocore, in a worker or in the triggerer, ``gc_freeze`` keeps a worker's garbage collector off
its startup objects, and ``results`` reads the per-item results back.
"""
