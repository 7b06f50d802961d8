"""lambdapipe operators: one module per AWS service."""
