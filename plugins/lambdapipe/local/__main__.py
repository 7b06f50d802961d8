"""``python -m lambdapipe.local``: the same as ``lambdapipe local``."""

import sys

from lambdapipe.local.server import main

sys.exit(main())
