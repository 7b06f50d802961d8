"""Invoking Lambda: the invoker and its retry policy, payloads, completion records of Event
invocations, and what each invocation cost (``metrics``)."""
