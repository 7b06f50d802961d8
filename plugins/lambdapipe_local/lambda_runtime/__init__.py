"""The Lambda data plane: execution environments that really run function code, warm pools, async invokes."""
