"""The Lambda view's FastAPI app, mounted by the plugin at ``/lambdapipe`` on Airflow's API server.

Plugin apps are public unless they protect themselves: every route here depends on Airflow's own
login (``requires_access_view(PLUGINS)``: a bearer token or the UI's ``_token`` cookie, 401 without,
403 for a user without the right), and invocation data is cut to the DAGs the user may read. In a
mounted app ``request.app`` is this app, not Airflow's, so the auth-manager dependency is pointed at
the API server's auth manager. No OpenAPI or docs routes: nothing here answers without a login.

Routes (under the prefix):
    GET /                              the overview page (HTML)
    GET /functions/{name}              one function's page; ``?request_id=`` adds that request's log lines
    GET /static/{file}                 the page's script, styles and the vendored uPlot
    GET /api/functions                 deployed functions, aliases, last deploy run
    GET /api/functions/{name}          one function's configuration and aliases
    GET /api/functions/{name}/logs     ``?request_id=``: that request's lines from CloudWatch Logs
    GET /api/invocations               recent invocations (``errors=true``: failed ones only)
    GET /api/stats                     cost and latency per DAG and per UTC day
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations at runtime, and
# those name dependencies that exist only inside create_app.
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

STATIC_DIR = Path(__file__).parent / "static"
AWS_CONN_ID = "aws_default"
DEFAULT_DAYS = 14
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


def create_app(aws_conn_id: str = AWS_CONN_ID) -> "FastAPI":
    """The app; imports FastAPI and Airflow's API-server security only now (the plugin stays cheap)."""
    from typing import Annotated

    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.common.db.common import SessionDep
    from airflow.api_fastapi.core_api.security import GetUserDep, auth_manager_from_app, requires_access_view
    from botocore.exceptions import BotoCoreError, ClientError
    from fastapi import Depends, FastAPI, HTTPException, Query
    from fastapi import Path as FastApiPath
    from fastapi.responses import FileResponse

    from lambdapipe.ui import deploys, functions, invocations, logs

    app = FastAPI(
        title="lambdapipe Lambda view",
        dependencies=[Depends(requires_access_view(AccessView.PLUGINS))],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.dependency_overrides[auth_manager_from_app] = get_auth_manager
    Days = Annotated[int, Query(ge=1, le=invocations.MAX_DAYS)]
    Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
    # Lambda's own alphabets: nothing else reaches a log group name or a CloudWatch filter pattern.
    FunctionName = Annotated[str, FastApiPath(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    RequestId = Annotated[str, Query(pattern=r"^[A-Za-z0-9-]{1,64}$")]

    def readable_dags(user: Any) -> Callable[[set[str]], set[str]]:
        """The DAG ids among those given that ``user`` may read."""

        def visible(dag_ids: set[str]) -> set[str]:
            return get_auth_manager().filter_authorized_dag_ids(dag_ids=dag_ids, user=user, method="GET")

        return visible

    def aws_failure(error: Exception, what: str) -> HTTPException:
        return HTTPException(502, f"{what} through connection {aws_conn_id!r} failed: {error}")

    @app.get("/", include_in_schema=False)
    def overview_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/functions/{name}", include_in_schema=False)
    def function_page(name: str) -> FileResponse:
        return FileResponse(STATIC_DIR / "function.html")

    @app.get("/static/{file_path:path}", include_in_schema=False)
    def static_file(file_path: str) -> FileResponse:
        path = (STATIC_DIR / file_path).resolve()
        if not path.is_relative_to(STATIC_DIR.resolve()) or not path.is_file():
            raise HTTPException(404, f"no static file {file_path!r}")
        return FileResponse(path)

    @app.get("/api/functions")
    def list_functions(user: GetUserDep, session: SessionDep) -> dict[str, Any]:
        try:
            deployed = functions.deployed_functions(aws_conn_id)
        except (BotoCoreError, ClientError) as error:
            raise aws_failure(error, "Lambda ListFunctions") from None
        deploy_dag = deploys.DEPLOY_DAG_ID
        may_read_deploys = deploy_dag in readable_dags(user)({deploy_dag})
        history = deploys.last_deploys(session) if may_read_deploys else {"dag_run": None, "tasks": {}}
        for function in deployed:
            function["last_deploy"] = history["tasks"].get(deploys.deploy_task_id(function["name"]))
        return {"functions": deployed, "deploy_dag_id": deploy_dag, "last_deploy_run": history["dag_run"]}

    @app.get("/api/functions/{name}")
    def get_function(name: FunctionName) -> dict[str, Any]:
        try:
            return functions.function_details(name, aws_conn_id)
        except functions.FunctionNotFound as error:
            raise HTTPException(404, str(error)) from None
        except (BotoCoreError, ClientError) as error:
            raise aws_failure(error, "Lambda GetFunctionConfiguration") from None

    @app.get("/api/functions/{name}/logs")
    def get_request_logs(name: FunctionName, request_id: RequestId) -> dict[str, Any]:
        try:
            return {"request_id": request_id, **logs.request_log_lines(name, request_id, aws_conn_id)}
        except (BotoCoreError, ClientError) as error:
            raise aws_failure(error, "CloudWatch Logs FilterLogEvents") from None

    @app.get("/api/invocations")
    def list_invocations(
        user: GetUserDep,
        days: Days = DEFAULT_DAYS,
        limit: Limit = DEFAULT_LIMIT,
        errors: bool = False,
        dag_id: str | None = None,
        function_name: str | None = None,
    ) -> dict[str, Any]:
        data = invocations.read_invocations(
            days, visible_dag_ids=readable_dags(user), dag_id=dag_id, function_name=function_name
        )
        return {"days": days, "invocations": invocations.recent(data, limit, errors_only=errors)}

    @app.get("/api/stats")
    def stats(
        user: GetUserDep,
        days: Days = DEFAULT_DAYS,
        dag_id: str | None = None,
        function_name: str | None = None,
    ) -> dict[str, Any]:
        data = invocations.read_invocations(
            days, visible_dag_ids=readable_dags(user), dag_id=dag_id, function_name=function_name
        )
        return {
            "days": days,
            "invocations": data.num_rows,
            "per_dag": invocations.per_dag(data),
            "per_day": invocations.per_day(data),
        }

    return app
