"""The Lambda view of the Airflow UI: a FastAPI app mounted on the API server, plus its static page.

``app`` builds the app (routes and auth), ``functions`` / ``deploys`` / ``invocations`` / ``logs`` read
what the page shows, ``static/`` holds the page and the vendored chart library (uPlot, MIT). Importing
this package is free: FastAPI, Airflow's API server and pyiceberg are imported when the app is built
or a route runs.
"""

from __future__ import annotations

URL_PREFIX = "/lambdapipe"  # where the API server mounts the app; links.LOCAL_VIEW_PATH starts with it
URL_ROUTE = "lambda"  # the UI shows the page inside its chrome at /plugin/<URL_ROUTE>
