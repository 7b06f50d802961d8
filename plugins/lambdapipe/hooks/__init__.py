"""lambdapipe hooks: one module per AWS service."""
