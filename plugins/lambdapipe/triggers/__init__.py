"""lambdapipe triggers: one module per AWS service."""
