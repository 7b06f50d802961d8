"""moto as the control plane: our Lambda runtime wired into it, the DynamoDB read fast path, version guards."""
