"""Putting functions in place: the deployer (role, code, configuration, version, smoke tests, alias)
and provisioned concurrency. Operators and the ``lambdapipe deploy`` command are thin glue over them;
building the zip is ``lambdapipe.packaging``."""
