"""The Lambda view's FastAPI app, mounted by the plugin at ``/lambdapipe`` on Airflow's API server.

Plugin apps are public unless they protect themselves: every route here depends on Airflow's own
login (``requires_access_view(PLUGINS)``: a bearer token or the UI's ``_token`` cookie, 401 without,
403 for a user without the right). Invocation data is cut to the DAGs the user may read, and
functions and their logs to those these DAGs use and lambdapipe manages (``scope``, ``functions``):
another function is a 404, as if it did not exist. AWS is read through the connection named by
``[lambdapipe] ui_aws_conn_id`` (default ``aws_default``), with short timeouts (``aws_config``). In a
mounted app ``request.app`` is this app, not Airflow's, so the auth-manager dependency is pointed at
the API server's auth manager. No OpenAPI or docs routes: nothing here answers without a login.

Routes (under the prefix):
    GET /                              the overview page (HTML)
    GET /functions/{name}              one function's page; ``?request_id=`` adds that request's log lines
    GET /static/{file}                 the page's script, styles and the vendored uPlot
    GET /api/functions                 the user's functions: aliases, using DAGs, last deploy (from
                                       Lambda, with the deploy DAG's task when it made it), last deploy run
    GET /api/functions/{name}          one function's configuration and aliases
    GET /api/functions/{name}/logs     ``?request_id=``: that request's lines from CloudWatch Logs
    GET /api/invocations               recent invocations (``errors=true``: failed ones only), a page at a
                                       time: ``next_cursor`` goes back as ``cursor``
    GET /api/stats                     cost and latency per DAG and per UTC day (``truncated`` past the cap)
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations at runtime, and
# those name dependencies that exist only inside create_app.
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep, auth_manager_from_app, requires_access_view
from botocore.exceptions import BotoCoreError, ClientError
from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi import Path as FastApiPath
from fastapi.responses import FileResponse

from lambdapipe import settings
from lambdapipe.ui import deploys, functions, invocations, logs, scope

if TYPE_CHECKING:
    from fastapi import FastAPI

STATIC_DIR = Path(__file__).parent / "static"
DEFAULT_AWS_CONN_ID = "aws_default"
DEFAULT_DAYS = 14
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


def ui_aws_conn_id() -> str:
    """The AWS connection the view reads Lambda and CloudWatch Logs through."""

    return settings.get("ui_aws_conn_id") or DEFAULT_AWS_CONN_ID


def create_app(aws_conn_id: str | None = None) -> "FastAPI":
    """The app; imports FastAPI and Airflow's API-server security only now (the plugin stays cheap)."""

    aws_conn_id = aws_conn_id or ui_aws_conn_id()

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

    def functions_of_readable_dags(user: Any, session: Any) -> dict[str, set[str]]:
        return scope.visible_functions(session, readable_dags(user))

    def require_used(name: str, user: Any, session: Any) -> None:
        """404, before any AWS call, for a function no DAG the user may read uses."""
        if name not in functions_of_readable_dags(user, session):
            raise HTTPException(404, f"no Lambda function {name!r} used by a DAG you may read")

    @app.get("/api/functions")
    def list_functions(user: GetUserDep, session: SessionDep) -> dict[str, Any]:
        used = functions_of_readable_dags(user, session)
        try:
            shown = functions.managed_functions(used, aws_conn_id)
        except (BotoCoreError, ClientError) as error:
            raise aws_failure(error, "Lambda GetFunction") from None
        deploy_dag = deploys.DEPLOY_DAG_ID
        may_read_deploys = deploy_dag in readable_dags(user)({deploy_dag})
        history = deploys.last_deploys(session) if may_read_deploys else {"dag_run": None, "tasks": {}}
        for function in shown:
            function["dag_ids"] = sorted(used[function["name"]])
            function["last_deploy"]["task"] = history["tasks"].get(deploys.deploy_task_id(function["name"]))
        return {"functions": shown, "deploy_dag_id": deploy_dag, "last_deploy_run": history["dag_run"]}

    @app.get("/api/functions/{name}")
    def get_function(name: FunctionName, user: GetUserDep, session: SessionDep) -> dict[str, Any]:
        require_used(name, user, session)
        try:
            return functions.function_details(name, aws_conn_id)
        except functions.FunctionNotFound as error:
            raise HTTPException(404, str(error)) from None
        except (BotoCoreError, ClientError) as error:
            raise aws_failure(error, "Lambda GetFunction") from None

    @app.get("/api/functions/{name}/logs")
    def get_request_logs(
        name: FunctionName, request_id: RequestId, user: GetUserDep, session: SessionDep
    ) -> dict[str, Any]:
        require_used(name, user, session)
        try:
            functions.require_managed(name, aws_conn_id)
            return {"request_id": request_id, **logs.request_log_lines(name, request_id, aws_conn_id)}
        except functions.FunctionNotFound as error:
            raise HTTPException(404, str(error)) from None
        except (BotoCoreError, ClientError) as error:
            raise aws_failure(error, "Lambda GetFunction or CloudWatch Logs FilterLogEvents") from None

    @app.get("/api/invocations")
    def list_invocations(
        user: GetUserDep,
        days: Days = DEFAULT_DAYS,
        limit: Limit = DEFAULT_LIMIT,
        errors: bool = False,
        dag_id: str | None = None,
        function_name: str | None = None,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> dict[str, Any]:
        try:
            page = invocations.recent_page(
                days,
                limit,
                visible_dag_ids=readable_dags(user),
                errors_only=errors,
                dag_id=dag_id,
                function_name=function_name,
                cursor=cursor,
            )
        except invocations.BadCursor as error:
            raise HTTPException(422, str(error)) from None
        return {"days": days, **page}

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
            "invocations": data.rows.num_rows,
            "truncated": data.truncated,
            "per_dag": invocations.per_dag(data.rows),
            "per_day": invocations.per_day(data.rows),
        }

    return app
