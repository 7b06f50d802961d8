"""Fan-out of one Lambda function over many items inside one Airflow task (LambdaMapOperator).

``items`` resolves where the items come from, ``batching`` groups them into invocation payloads,
``run_store`` keeps the input and every result in S3 (so a retried task resumes), ``concurrency``
adapts the number of invocations in flight to throttling, and ``engine`` runs it all with
aiobotocore, in a worker or in the triggerer.
"""
