"""``python -m lambdapipe_local``: the same as ``lambdapipe local``."""

import sys

from lambdapipe_local.server import main

sys.exit(main())
