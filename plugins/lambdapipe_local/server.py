"""The local AWS endpoint: moto's server, our Lambda runtime, call counting and fault injection.

Use it from Python (``with LocalAws() as aws: aws.endpoint_url``) or as a server
(``lambdapipe local --port 4566``). Clients reach it only through ``AWS_ENDPOINT_URL`` or an
``endpoint_url`` connection extra, exactly as they reach AWS.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any

from lambdapipe_local.admin.calls import CallCounter
from lambdapipe_local.admin.faults import FaultInjector
from lambdapipe_local.moto_backend.internal_clients import INTERNAL_CREDENTIALS, InternalClients

DEFAULT_REGION = "us-east-1"
DEFAULT_CREDENTIALS = ("testing", "testing")  # access key id, secret key: what clients are told to use
RUNTIME_ADMIN_PATHS = ("/_lambdapipe/runtime", "/_lambdapipe/reset")
STOP_WAIT_S = 10.0  # at stop: for pollers to finish their batch, then for answers in progress


class LocalAws:
    """An in-process local AWS stack on a loopback port; ``reset()`` between tests, ``stop()`` at the end."""

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        state_dir: str | Path | None = None,
        account_concurrency: int = 1000,
        idle_timeout_s: float = 300.0,
        async_retry_delays_s: tuple[float, ...] = (1.0, 2.0),
        node_sdk_dir: str | Path | None = None,
        allowed_hosts: Collection[str] = (),
        check_signatures: bool = False,
        credentials: tuple[str, str] = DEFAULT_CREDENTIALS,
        persistent: bool = False,
    ) -> None:
        self.host = host
        # Keep the AWS state in ``state_dir`` across restarts (what `lambdapipe local` does by default).
        self.persistent = persistent
        self.check_signatures = check_signatures  # 403 for requests not signed with a key it accepts
        self.credentials = credentials  # the access key id and secret key clients are told to use
        self.allowed_hosts = tuple(allowed_hosts)  # Host names besides loopback ones, e.g. a compose service
        self.port = port
        self._own_state_dir = state_dir is None
        self.state_dir = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="lambdapipe-local-"))
        self.account_concurrency = account_concurrency
        self.idle_timeout_s = idle_timeout_s
        self.async_retry_delays_s = async_retry_delays_s
        sdk = node_sdk_dir or os.environ.get("LAMBDAPIPE_NODE_SDK_DIR")
        self.node_sdk_dir = Path(sdk) if sdk else None
        self.faults = FaultInjector()
        self.calls = CallCounter()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._service: Any = None
        self._pollers: Any = None
        self._state_keeper: Any = None
        self._change_tracking: Any = None
        self._state_dir_claim: Any = None

    @property
    def endpoint_url(self) -> str:
        """Where clients on this machine (and the stack's own runtimes) reach it: loopback even when
        bound to every interface, since the stack refuses a Host such as 0.0.0.0 (browser_guard)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(self.host, self.host)
        return f"http://{host}:{self.port}"

    def start(self) -> LocalAws:
        from lambdapipe_local.front.service_models import preload

        preload("s3", "lambda", "dynamodb", "sqs", "sns")
        if self.persistent:
            self._restore_state()
        try:
            self._serve()
        except BaseException:
            self.stop()  # a port in use: release the state directory and the saver
            raise
        return self

    def _serve(self) -> None:
        from moto.server import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        from lambdapipe_local.front.browser_guard import BrowserGuard
        from lambdapipe_local.front.change_tracking import ChangeTracking
        from lambdapipe_local.front.http_server import KeepAliveRequestHandler
        from lambdapipe_local.front.middleware import AwsRequestMiddleware
        from lambdapipe_local.front.signature_check import SignatureCheck
        from lambdapipe_local.http_ingress.wsgi import HttpIngress
        from lambdapipe_local.lambda_runtime.invoke_api import InvokeFastPath
        from lambdapipe_local.moto_backend.dynamodb_api import DynamoDbFastPath

        moto_app = DomainDispatcherApplication(create_backend_app)
        fast_paths = InvokeFastPath(DynamoDbFastPath(moto_app), lambda: self._service)
        app: Callable = self._runtime_admin(AwsRequestMiddleware(fast_paths, self.faults, self.calls))
        if self.check_signatures:
            app = SignatureCheck(app, self.accepted_keys())
        if self._state_keeper is not None:
            app = self._change_tracking = ChangeTracking(app, self._state_keeper.note_change)
        self._server = make_server(
            self.host,
            self.port,
            BrowserGuard(HttpIngress(app, lambda: self._service), self.allowed_hosts),
            threaded=True,
            request_handler=KeepAliveRequestHandler,
        )
        self._server.daemon_threads = True
        self.port = self._server.server_port
        self._start_lambda_runtime()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="local-aws")
        self._thread.start()

    def stop(self) -> None:
        """Stop in the order that saves everything: pollers finish their batch (and checkpoint) while the
        server still answers, then no new request, then the last save once answered requests are done."""
        try:
            if self._pollers is not None:
                self._pollers.close(timeout_s=STOP_WAIT_S)
            if self._server is not None:
                self._server.shutdown()
                self._server.server_close()
                self._server = None
            if self._state_keeper is not None:
                if self._change_tracking is not None:
                    self._change_tracking.wait_idle(STOP_WAIT_S)
                self._state_keeper.close()
        finally:
            self._state_keeper = self._change_tracking = None
            self._stop_lambda_runtime()
            if self._state_dir_claim is not None:
                self._state_dir_claim.close()
                self._state_dir_claim = None
            if self._own_state_dir:
                shutil.rmtree(self.state_dir, ignore_errors=True)

    def reset(self) -> None:
        """Forget every resource, warm environment, fault rule and call count."""
        from moto.moto_api._internal import moto_api_backend

        self._stop_lambda_runtime()
        moto_api_backend.reset()
        self.faults.clear()
        self.calls.reset()
        self._start_lambda_runtime()
        if self._state_keeper is not None:
            self._state_keeper.save_now()

    def runtime_stats(self) -> dict[str, int]:
        """Execution environments created, idle and busy, and the peak number of concurrent invocations."""
        return self._service.executor.pool.stats()

    def stop_idle_environments(self) -> int:
        """Stop every idle execution environment now, so the next invocation of each function is cold."""
        return self._service.executor.pool.reap_idle(older_than_s=0)

    def wait_for_async(self, timeout_s: float = 30.0) -> bool:
        """Wait until every queued ``Event`` invocation has finished (retries and destinations included)."""
        return self._service.async_invoker.wait_idle(timeout_s)

    def environ(self, region: str = DEFAULT_REGION) -> dict[str, str]:
        """The variables a client process needs to use this endpoint."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": self.credentials[0],
            "AWS_SECRET_ACCESS_KEY": self.credentials[1],
        }

    def accepted_keys(self) -> dict[str, str]:
        """Access key id to secret key: the clients', the functions' and the stack's own."""
        from lambdapipe_local.lambda_runtime.runtimes import DUMMY_CREDENTIALS

        return {
            self.credentials[0]: self.credentials[1],
            DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"]: DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            INTERNAL_CREDENTIALS[0]: INTERNAL_CREDENTIALS[1],
        }

    def client(self, service: str, region: str = DEFAULT_REGION, **kwargs: Any) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=region,
            aws_access_key_id=self.credentials[0],
            aws_secret_access_key=self.credentials[1],
            **kwargs,
        )

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _restore_state(self) -> None:
        """Claim the state directory, load what an earlier run saved there, and keep saving."""
        from lambdapipe_local.moto_backend import persistence

        self._state_dir_claim = persistence.claim(self.state_dir)
        try:
            persistence.load(self.state_dir)
        except persistence.StateError:
            self._state_dir_claim.close()
            self._state_dir_claim = None
            raise
        self._state_keeper = persistence.StateKeeper(self.state_dir)
        self._state_keeper.save_now()  # a first start leaves a state file too: "this home has AWS state"

    def _start_lambda_runtime(self) -> None:
        from lambdapipe_local.lambda_runtime.code_store import CodeStore
        from lambdapipe_local.lambda_runtime.event_sources import EventSourcePollers
        from lambdapipe_local.lambda_runtime.invoker import LambdaExecutor
        from lambdapipe_local.lambda_runtime.lambda_service import LocalLambdaService
        from lambdapipe_local.lambda_runtime.runtimes import RuntimeLauncher
        from lambdapipe_local.moto_backend import moto_integration

        clients = InternalClients(self.endpoint_url)
        launcher = RuntimeLauncher(self.state_dir, self.endpoint_url, self.node_sdk_dir)
        executor = LambdaExecutor(
            launcher,
            CodeStore(self.state_dir / "code"),
            {"account_concurrency": self.account_concurrency, "idle_timeout_s": self.idle_timeout_s},
        )
        self._service = LocalLambdaService(executor, clients, {"retry_delays_s": self.async_retry_delays_s})
        moto_integration.install(self._service)
        self._pollers = EventSourcePollers(self._service, clients)

    def _stop_lambda_runtime(self) -> None:
        from lambdapipe_local.moto_backend import moto_integration

        if self._pollers is not None:
            self._pollers.close()
            self._pollers = None
        if self._service is not None:
            moto_integration.uninstall(self._service)
            self._service.close()
            self._service = None

    def _runtime_admin(self, app: Callable) -> Callable:
        """Admin routes that need the Lambda runtime: stats and a full reset for out-of-process tests."""

        def wsgi(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
            path = environ.get("PATH_INFO", "")
            if path not in RUNTIME_ADMIN_PATHS:
                return app(environ, start_response)
            if path == "/_lambdapipe/reset" and environ["REQUEST_METHOD"] == "POST":
                self.reset()
                body = {"status": "reset"}
            else:
                body = self.runtime_stats()
            data = json.dumps(body).encode("utf-8")
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
            )
            return [data]

        return wsgi


def default_state_dir() -> Path:
    """Where `lambdapipe local` keeps its AWS state between runs unless told otherwise."""
    return Path(os.environ.get("LAMBDAPIPE_LOCAL_HOME") or Path.home() / ".lambdapipe" / "local-aws")


def main(argv: list[str] | None = None) -> int:
    """``lambdapipe local``: serve until Ctrl-C or SIGTERM; ``lambdapipe local reset``: forget the state."""
    from lambdapipe_local.moto_backend import persistence

    parser = argparse.ArgumentParser(prog="lambdapipe local", description=__doc__.splitlines()[0])
    parser.add_argument(
        "command",
        nargs="?",
        choices=("serve", "reset"),
        default="serve",
        help="serve (default), or reset: delete the saved AWS state in --state-dir (the stack stopped)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=4566, help="port to listen on (0: a free port)")
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a Host name to accept besides loopback ones (e.g. a compose service name); repeatable",
    )
    parser.add_argument(
        "--check-signatures",
        action="store_true",
        help="refuse requests not SigV4-signed with the credentials below (or the functions' own)",
    )
    parser.add_argument(
        "--credentials",
        default=os.environ.get("LAMBDAPIPE_LOCAL_CREDENTIALS", ":".join(DEFAULT_CREDENTIALS)),
        metavar="KEY_ID:SECRET",
        help="the access key clients use (default testing:testing, or $LAMBDAPIPE_LOCAL_CREDENTIALS)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="the saved AWS state, unpacked function code and runtime files "
        "(default $LAMBDAPIPE_LOCAL_HOME or ~/.lambdapipe/local-aws)",
    )
    parser.add_argument(
        "--ephemeral",
        action="store_true",
        help="start empty and save nothing (tests); without --state-dir, a temporary one removed on exit",
    )
    parser.add_argument("--account-concurrency", type=int, default=1000, help="account concurrency limit")
    parser.add_argument(
        "--idle-timeout", type=float, default=300.0, help="seconds before an idle environment stops"
    )
    args = parser.parse_args(argv)
    state_dir = args.state_dir or (None if args.ephemeral else default_state_dir())
    if args.command == "reset":
        return _reset(state_dir or default_state_dir())
    key_id, separator, secret = args.credentials.partition(":")
    if not (key_id and separator and secret):
        parser.error(f"--credentials must be KEY_ID:SECRET (got {args.credentials!r})")
    aws = LocalAws(
        port=args.port,
        host=args.host,
        state_dir=state_dir,
        account_concurrency=args.account_concurrency,
        idle_timeout_s=args.idle_timeout,
        allowed_hosts=args.allow_host,
        check_signatures=args.check_signatures,
        credentials=(key_id, secret),
        persistent=not args.ephemeral,
    )
    try:
        aws.start()
    except persistence.StateError as error:
        print(f"lambdapipe local: {error}", file=sys.stderr)
        return 2
    print(f"lambdapipe local AWS listening on {aws.endpoint_url}", flush=True)
    print(f"AWS state: {'not saved (--ephemeral)' if args.ephemeral else aws.state_dir}", flush=True)
    print("Point clients at it with:", flush=True)
    for key, value in aws.environ().items():
        print(f"  export {key}={value}", flush=True)
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    aws.stop()
    return 0


def _reset(state_dir: Path) -> int:
    """Delete the saved state and unpacked code, unless a running stack holds the directory."""
    from lambdapipe_local.moto_backend import persistence

    if not state_dir.is_dir():  # a mistyped path: say so, create nothing
        print(f"lambdapipe local reset: no saved AWS state in {state_dir}")
        return 0
    try:
        claim = persistence.claim(state_dir)
    except persistence.StateError as error:
        print(f"lambdapipe local reset: {error}", file=sys.stderr)
        return 2
    with claim:
        removed = persistence.remove(state_dir)
        shutil.rmtree(state_dir / "code", ignore_errors=True)
    print(
        f"lambdapipe local reset: {'deleted the saved AWS state in' if removed else 'no saved AWS state in'} "
        f"{state_dir}"
    )
    return 0
