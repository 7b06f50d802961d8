"""node_bootstrap.js runs Node.js handlers against our Runtime API the way AWS's nodejs runtimes do.

Each test writes a small function into a temporary task root, starts a real `node` process on the
bootstrap against a RuntimeApiServer, and checks what the runtime posts back and logs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lambdapipe_local.lambda_runtime.runtime_api import Invocation, RuntimeApiServer
from lambdapipe_local.lambda_runtime.runtimes import NODE_BOOTSTRAP

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="needs Node.js (`node` on PATH)")

# Generous: a busy 2-core machine can take seconds to start node; nothing here measures time.
WAIT_S = 30.0
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders"
LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t(?P<request_id>[^\t]+)\t(?P<level>[A-Z]+)\t(?P<text>.*)$"
)
EXIT_UNCAUGHT_EXCEPTION = 129
EXIT_UNHANDLED_REJECTION = 128


class NodeRuntime:
    """One `node node_bootstrap.js` process, its Runtime API server and everything it printed."""

    def __init__(self, task_root: Path, handler: str, env: dict[str, str]) -> None:
        self.server = RuntimeApiServer()
        self.process = subprocess.Popen(
            [NODE, str(NODE_BOOTSTRAP)],
            cwd=task_root,
            env={
                "PATH": os.environ["PATH"],
                "AWS_LAMBDA_RUNTIME_API": self.server.address,
                "_HANDLER": handler,
                "LAMBDA_TASK_ROOT": str(task_root),
                "AWS_LAMBDA_FUNCTION_NAME": "orders",
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
                "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/orders",
                "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]abc",
                **env,
            },
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.lines: list[str] = []
        self._new_line = threading.Condition()
        self._reader = threading.Thread(target=self._read_output, daemon=True)
        self._reader.start()

    def invoke(self, event: object = None, client_context: str | None = None) -> Invocation:
        """Submit one invocation and wait for the runtime's answer."""
        invocation = Invocation(
            request_id=str(uuid.uuid4()),
            event=json.dumps(event).encode(),
            function_arn=FUNCTION_ARN,
            deadline_ms=int(time.time() * 1000) + 60_000,
            client_context=client_context,
        )
        self.server.submit(invocation)
        assert invocation.finished.wait(WAIT_S), f"no answer from the runtime; output: {self.lines}"
        return invocation

    def result(self, event: object = None, client_context: str | None = None) -> object:
        invocation = self.invoke(event, client_context)
        assert invocation.error is None, invocation.error
        return json.loads(invocation.payload)

    def exit_code(self) -> int:
        return self.process.wait(timeout=WAIT_S)

    def wait_for_line(self, matches: Callable[[str], bool]) -> str:
        """The first output line that matches; output is read in the background, so wait for it."""
        deadline = time.monotonic() + WAIT_S
        with self._new_line:
            while True:
                found = next((line for line in self.lines if matches(line)), None)
                if found is not None or time.monotonic() > deadline:
                    break
                self._new_line.wait(0.1)
        assert found is not None, f"no matching line in the runtime's output: {self.lines}"
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.server.close()
        self._reader.join(timeout=WAIT_S)
        assert self.process.stdout is not None
        self.process.stdout.close()

    def _read_output(self) -> None:
        # Split on "\n" only: a multi-line log record carries "\r" inside one line.
        assert self.process.stdout is not None
        for raw in iter(self.process.stdout.readline, b""):
            with self._new_line:
                self.lines.append(raw.decode().removesuffix("\n"))
                self._new_line.notify_all()


StartNode = Callable[..., NodeRuntime]


@pytest.fixture
def start_node(tmp_path: Path) -> Iterator[StartNode]:
    """Write a function's files into a task root and start the Node.js runtime on them."""
    started: list[NodeRuntime] = []

    def start(files: dict[str, str], handler: str = "index.handler", env: dict[str, str] | None = None):
        task_root = tmp_path / "task"
        for name, text in files.items():
            (task_root / name).parent.mkdir(parents=True, exist_ok=True)
            (task_root / name).write_text(text)
        task_root.mkdir(exist_ok=True)
        runtime = NodeRuntime(task_root, handler, env or {})
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        runtime.stop()


ECHO = "exports.handler = async (event) => ({ echo: event });"


def test_async_handler_result_is_the_response(start_node: StartNode) -> None:
    runtime = start_node({"index.js": ECHO})

    assert runtime.result({"order": 7}) == {"echo": {"order": 7}}


def test_callback_handler_answers_through_the_callback(start_node: StartNode) -> None:
    runtime = start_node(
        {"index.js": "exports.handler = (event, context, callback) => callback(null, event.n * 2);"}
    )

    assert runtime.result({"n": 21}) == 42


@pytest.mark.parametrize(("waits", "timer_seen"), [(True, True), (False, False)])
def test_callback_answer_waits_for_the_event_loop_unless_told_not_to(
    start_node: StartNode, waits: bool, timer_seen: bool
) -> None:
    # The result is serialised when it is sent: a timer that mutates it shows whether the runtime waited.
    runtime = start_node(
        {
            "index.js": f"""
exports.handler = (event, context, callback) => {{
  context.callbackWaitsForEmptyEventLoop = {json.dumps(waits)};
  const result = {{ timerFired: false }};
  setTimeout(() => {{ result.timerFired = true; }}, 50);
  callback(null, result);
}};"""
        }
    )

    assert runtime.result() == {"timerFired": timer_seen}


@pytest.mark.parametrize(
    ("files", "handler", "module_system"),
    [
        pytest.param(
            {"index.mjs": "export const handler = async () => typeof require;"},
            "index.handler",
            "esm",
            id="mjs",
        ),
        pytest.param(
            {
                "package.json": '{"type": "module"}',
                "index.js": "export const handler = async () => typeof require;",
            },
            "index.handler",
            "esm",
            id="js-in-type-module-package",
        ),
        pytest.param(
            {"src/app.cjs": "exports.handler = async () => typeof require;"},
            "src/app.handler",
            "cjs",
            id="cjs-in-subdir",
        ),
        pytest.param(
            {"index.js": "exports.api = { get: async () => typeof require };"},
            "index.api.get",
            "cjs",
            id="nested-export",
        ),
    ],
)
def test_handler_module_is_found_and_loaded_with_the_right_module_system(
    start_node: StartNode, files: dict[str, str], handler: str, module_system: str
) -> None:
    # `require` exists in CommonJS modules only.
    expected = {"esm": "undefined", "cjs": "function"}[module_system]

    assert start_node(files, handler).result() == expected


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("exports.handler = async () => {};", id="async-returning-undefined"),
        pytest.param(
            "exports.handler = (event, context, callback) => callback();", id="callback-without-result"
        ),
        # AWS ignores what a non-async handler returns: it answers null once the event loop is empty.
        pytest.param("exports.handler = () => 'ignored';", id="sync-return-value"),
    ],
)
def test_handler_without_a_result_answers_null(start_node: StartNode, source: str) -> None:
    invocation = start_node({"index.js": source}).invoke()

    assert (invocation.payload, invocation.error) == (b"null", None)


def test_thrown_error_becomes_aws_error_document_and_invoke_error_log(start_node: StartNode) -> None:
    runtime = start_node(
        {
            "index.js": """
class ValidationError extends Error { constructor(m) { super(m); this.name = 'ValidationError'; this.field = 'sku'; } }
exports.handler = async () => { throw new ValidationError('sku is required'); };"""
        }
    )

    invocation = runtime.invoke()

    assert invocation.error["errorType"] == "ValidationError"
    assert invocation.error["errorMessage"] == "sku is required"
    assert invocation.error["trace"][0] == "ValidationError: sku is required"
    assert any("index.js" in frame for frame in invocation.error["trace"][1:])
    logged = LOG_LINE.match(runtime.wait_for_line(lambda line: "Invoke Error" in line))
    assert (logged["request_id"], logged["level"]) == (invocation.request_id, "ERROR")
    label, document = logged["text"].split("\t", 1)
    assert label == "Invoke Error "
    assert json.loads(document) | {"stack": None} == {
        "errorType": "ValidationError",
        "errorMessage": "sku is required",
        "name": "ValidationError",
        "field": "sku",
        "stack": None,
    }


@pytest.mark.parametrize(
    ("source", "error"),
    [
        pytest.param(
            "exports.handler = async () => { throw 'out of stock'; };",
            {"errorType": "string", "errorMessage": "out of stock", "trace": []},
            id="thrown-string",
        ),
        pytest.param(
            "exports.handler = (e, c, callback) => callback({ code: 7 });",
            {"errorType": "object", "errorMessage": "[object Object]", "trace": []},
            id="callback-with-object",
        ),
        pytest.param(
            "exports.handler = (e, context) => context.fail();",
            {"errorType": "string", "errorMessage": "handled", "trace": []},
            id="context-fail-without-error",
        ),
    ],
)
def test_non_error_throwables_are_wrapped_like_aws(start_node: StartNode, source: str, error: dict) -> None:
    assert start_node({"index.js": source}).invoke().error == error


@pytest.mark.parametrize(
    ("source", "payload"),
    [
        pytest.param(
            "exports.handler = (e, context) => context.succeed({ ok: 1 });", {"ok": 1}, id="succeed"
        ),
        pytest.param("exports.handler = (e, context) => context.done(null, 'fine');", "fine", id="done"),
        pytest.param(
            "exports.handler = (e, context, cb) => { context.succeed('first'); cb(null, 'second'); };",
            "first",
            id="only-first-call-counts",
        ),
    ],
)
def test_legacy_context_methods_answer(start_node: StartNode, source: str, payload: object) -> None:
    assert start_node({"index.js": source}).result() == payload


def test_context_fail_with_error_reports_it(start_node: StartNode) -> None:
    runtime = start_node(
        {"index.js": "exports.handler = (e, context) => context.fail(new TypeError('nope'));"}
    )

    assert runtime.invoke().error["errorType"] == "TypeError"


def test_unserialisable_result_is_reported_as_an_error(start_node: StartNode) -> None:
    runtime = start_node({"index.js": "exports.handler = async () => ({ total: 10n });"})

    error = runtime.invoke().error

    assert (error["errorType"], error["errorMessage"]) == ("Error", "Unable to stringify response body")


def test_module_state_survives_between_invocations(start_node: StartNode) -> None:
    runtime = start_node({"index.js": "let calls = 0;\nexports.handler = async () => ++calls;"})

    assert [runtime.result() for _ in range(3)] == [1, 2, 3]


def test_remaining_time_counts_down_from_the_deadline(start_node: StartNode) -> None:
    runtime = start_node(
        {
            "index.js": """
exports.handler = async (event, context) => {
  const before = context.getRemainingTimeInMillis();
  await new Promise((resolve) => setTimeout(resolve, 50));
  return [before, context.getRemainingTimeInMillis()];
};"""
        }
    )

    before, after = runtime.result()

    assert 60_000 >= before > after > 0


def test_context_carries_the_function_and_invocation_fields(start_node: StartNode) -> None:
    runtime = start_node(
        {
            "index.js": """
exports.handler = async (event, context) => ({
  ...context,
  hasIdentity: 'identity' in context && context.identity === undefined,
  traceId: process.env._X_AMZN_TRACE_ID,
});"""
        }
    )

    invocation = runtime.invoke(client_context='{"custom": {"tenant": "acme"}}')
    context = json.loads(invocation.payload)

    assert re.fullmatch(
        r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0", context.pop("traceId")
    )
    assert context == {
        "callbackWaitsForEmptyEventLoop": True,
        "functionName": "orders",
        "functionVersion": "$LATEST",
        "memoryLimitInMB": "256",
        "logGroupName": "/aws/lambda/orders",
        "logStreamName": "2026/01/01/[$LATEST]abc",
        "invokedFunctionArn": FUNCTION_ARN,
        "awsRequestId": invocation.request_id,
        "clientContext": {"custom": {"tenant": "acme"}},
        "hasIdentity": True,
    }


MISSING_PACKAGE = "left-pad-that-is-not-packaged"


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        pytest.param(
            {},
            "index.handler",
            "Runtime.ImportModuleError",
            "Error: Cannot find module 'index'\nRequire stack:\n- ",
            id="missing-module",
        ),
        pytest.param(
            {"index.js": f"require('{MISSING_PACKAGE}');"},
            "index.handler",
            "Runtime.ImportModuleError",
            f"Error: Cannot find module '{MISSING_PACKAGE}'\nRequire stack:\n- ",
            id="missing-cjs-dependency",
        ),
        pytest.param(
            {"index.mjs": f"import '{MISSING_PACKAGE}';"},
            "index.handler",
            "Error",
            f"Cannot find package '{MISSING_PACKAGE}' imported from ",
            id="missing-esm-dependency",
        ),
        pytest.param(
            {"index.js": "exports.other = () => 1;"},
            "index.handler",
            "Runtime.HandlerNotFound",
            "index.handler is undefined or not exported",
            id="handler-not-exported",
        ),
        pytest.param(
            {"index.js": "exports.handler = 42;"},
            "index.handler",
            "Runtime.HandlerNotFound",
            "index.handler is not a function",
            id="handler-not-a-function",
        ),
        pytest.param(
            {"index.js": ECHO}, "index", "Runtime.MalformedHandlerName", "Bad handler", id="no-export"
        ),
        pytest.param(
            {"index.js": ECHO},
            "../index.handler",
            "Runtime.MalformedHandlerName",
            "'../index.handler' is not a valid handler name.",
            id="relative-path",
        ),
        pytest.param(
            {"index.js": "exports.handler = async () => {"},
            "index.handler",
            "Runtime.UserCodeSyntaxError",
            "SyntaxError: ",
            id="cjs-syntax-error",
        ),
        pytest.param(
            {"index.mjs": "export const handler = async () => {"},
            "index.handler",
            "Runtime.UserCodeSyntaxError",
            "SyntaxError: ",
            id="esm-syntax-error",
        ),
        pytest.param(
            {"index.js": "throw new RangeError('bad config');"},
            "index.handler",
            "RangeError",
            "bad config",
            id="top-level-throw",
        ),
    ],
)
def test_init_failure_is_posted_as_init_error_and_the_process_exits(
    start_node: StartNode, files: dict[str, str], handler: str, error_type: str, message: str
) -> None:
    runtime = start_node(files, handler)

    assert runtime.exit_code() == EXIT_UNCAUGHT_EXCEPTION
    error = runtime.server.init_error
    assert error is not None, runtime.lines
    assert (error["errorType"], error["errorMessage"][: len(message)]) == (error_type, message)
    assert isinstance(error["trace"], list)
    logged = LOG_LINE.match(runtime.wait_for_line(lambda line: "\tUncaught Exception \t" in line))
    assert (logged["request_id"], logged["level"]) == ("undefined", "ERROR")


def test_init_error_fails_an_invocation_that_is_already_waiting(
    start_node: StartNode, tmp_path: Path
) -> None:
    # The module finishes loading only once the test has submitted its invocation.
    runtime = start_node(
        {
            "index.mjs": """
import { existsSync } from 'node:fs';
while (!existsSync('submitted')) await new Promise((resolve) => setTimeout(resolve, 10));
export const handler = 'not a function';"""
        }
    )
    invocation = Invocation(str(uuid.uuid4()), b"{}", FUNCTION_ARN, int(time.time() * 1000) + 60_000)
    runtime.server.submit(invocation)
    (tmp_path / "task" / "submitted").touch()

    assert invocation.finished.wait(WAIT_S), runtime.lines
    assert invocation.error["errorType"] == "Runtime.HandlerNotFound"


def test_console_output_becomes_lambda_log_lines(start_node: StartNode) -> None:
    runtime = start_node(
        {
            "index.js": """
console.log('cold start');
exports.handler = async () => {
  console.log('%s has %d items', 'cart', 3);
  console.warn('low stock');
  console.error('payment failed', { code: 402 });
  console.debug('debug detail');
  console.trace('tracing');
  console.info('first line\\nsecond line');
};"""
        }
    )

    request_id = runtime.invoke().request_id

    records = [
        LOG_LINE.match(runtime.wait_for_line(lambda line, t=text: line.endswith(t)))
        for text in [
            "cold start",
            "cart has 3 items",
            "low stock",
            "payment failed { code: 402 }",
            "debug detail",
            "tracing",
            "first line\rsecond line",
        ]
    ]
    assert [(record["request_id"], record["level"]) for record in records] == [
        ("undefined", "INFO"),
        (request_id, "INFO"),
        (request_id, "WARN"),
        (request_id, "ERROR"),
        (request_id, "DEBUG"),
        (request_id, "TRACE"),
        (request_id, "INFO"),
    ]


def test_json_log_format_and_level_filter(start_node: StartNode) -> None:
    runtime = start_node(
        {
            "index.js": "exports.handler = async () => { console.info('hidden'); console.warn('kept', { sku: 1 }); };"
        },
        env={"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "WARN"},
    )

    request_id = runtime.invoke().request_id
    record = json.loads(runtime.wait_for_line(lambda line: "kept" in line))

    assert record | {"timestamp": None} == {
        "timestamp": None,
        "level": "WARN",
        "requestId": request_id,
        "message": "kept { sku: 1 }",
    }
    assert not any("hidden" in line for line in runtime.lines)


def test_unhandled_rejection_fails_the_invocation_and_ends_the_process(start_node: StartNode) -> None:
    runtime = start_node(
        {
            "index.js": """
exports.handler = async () => {
  Promise.reject(new Error('lost update'));
  await new Promise((resolve) => setTimeout(resolve, 5000));
  return 'too late';
};"""
        }
    )

    invocation = runtime.invoke()

    assert invocation.error["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert invocation.error["errorMessage"] == "Error: lost update"
    assert runtime.exit_code() == EXIT_UNHANDLED_REJECTION
    runtime.wait_for_line(lambda line: "\tERROR\tUnhandled Promise Rejection \t" in line)


def test_uncaught_exception_fails_the_invocation_and_ends_the_process(start_node: StartNode) -> None:
    runtime = start_node(
        {
            "index.js": """
exports.handler = async () => {
  setTimeout(() => { throw new RangeError('timer blew up'); }, 0);
  await new Promise((resolve) => setTimeout(resolve, 5000));
};"""
        }
    )

    invocation = runtime.invoke()

    assert (invocation.error["errorType"], invocation.error["errorMessage"]) == (
        "RangeError",
        "timer blew up",
    )
    assert runtime.exit_code() == EXIT_UNCAUGHT_EXCEPTION


def _write_package(node_modules: Path, name: str, esm: bool) -> None:
    package = node_modules / name
    package.mkdir(parents=True)
    manifest = {"name": name, "type": "module" if esm else "commonjs", "exports": "./index.js"}
    (package / "package.json").write_text(json.dumps(manifest))
    body = f"export const where = '{name}';" if esm else f"exports.where = '{name}';"
    (package / "index.js").write_text(body)


@pytest.mark.parametrize(
    ("files", "handler"),
    [
        pytest.param(
            {"index.mjs": "import { where } from 'layer-lib';\nexport const handler = async () => where;"},
            "index.handler",
            id="esm-import",
        ),
        pytest.param(
            {"index.js": "exports.handler = async () => (await import('layer-lib')).where;"},
            "index.handler",
            id="dynamic-import-from-cjs",
        ),
    ],
)
def test_esm_imports_resolve_packages_on_node_path(
    start_node: StartNode, tmp_path: Path, files: dict[str, str], handler: str
) -> None:
    layer_modules = tmp_path / "opt" / "nodejs" / "node_modules"
    _write_package(layer_modules, "layer-lib", esm=True)

    runtime = start_node(files, handler, env={"NODE_PATH": f"{tmp_path / 'missing'}:{layer_modules}"})

    assert runtime.result() == "layer-lib"


def test_commonjs_requires_resolve_packages_on_node_path(start_node: StartNode, tmp_path: Path) -> None:
    layer_modules = tmp_path / "opt" / "nodejs" / "node_modules"
    _write_package(layer_modules, "layer-cjs", esm=False)

    runtime = start_node(
        {"index.js": "exports.handler = async () => require('layer-cjs').where;"},
        env={"NODE_PATH": str(layer_modules)},
    )

    assert runtime.result() == "layer-cjs"


def test_esm_node_path_lookup_does_not_reach_directories_above_the_entry(
    start_node: StartNode, tmp_path: Path
) -> None:
    # ESM resolution walks up parent directories; only the NODE_PATH entry itself may supply packages.
    _write_package(tmp_path / "opt" / "node_modules", "outside-lib", esm=True)
    layer_modules = tmp_path / "opt" / "nodejs" / "node_modules"
    layer_modules.mkdir(parents=True)

    runtime = start_node(
        {"index.mjs": "import 'outside-lib';\nexport const handler = async () => 1;"},
        env={"NODE_PATH": str(layer_modules)},
    )

    assert runtime.exit_code() == EXIT_UNCAUGHT_EXCEPTION
    assert runtime.server.init_error["errorMessage"].startswith("Cannot find package 'outside-lib'")


def test_runtime_exits_cleanly_when_the_api_shuts_down(start_node: StartNode) -> None:
    runtime = start_node({"index.js": ECHO})
    assert runtime.server.polled.wait(WAIT_S)

    runtime.server.close()

    assert runtime.exit_code() == 0
