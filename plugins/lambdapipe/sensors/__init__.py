"""lambdapipe sensors: one module per AWS service."""
