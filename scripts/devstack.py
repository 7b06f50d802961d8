"""Run the development stack: Airflow 3 (SQLite, LocalExecutor) and the local AWS server.

With ``--executor CeleryExecutor`` the same stack runs on Postgres (metadata DB, Celery result
backend, optionally the Iceberg catalog) and a Redis broker, with ``--celery-workers N`` workers.

Every component is a child process this launcher starts in its own process group and tracks by PID,
so Ctrl-C or ``stop`` ends exactly what was started (``airflow standalone`` started in the background
ignores SIGINT, and SIGTERM orphans its children). Components are tied to the launcher's life
(``lambdapipe.utils.child_processes.spawn``): a launcher killed with SIGKILL takes them with it.

    python scripts/devstack.py up       # foreground; Ctrl-C stops every component
    python scripts/devstack.py start    # background; returns once healthy (PID file in the home)
    python scripts/devstack.py stop
    python scripts/devstack.py status
    python scripts/devstack.py --executor CeleryExecutor --database-url URL --broker-url URL up
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil  # an Airflow dependency
import stack_state

from lambdapipe.utils.child_processes import orphans, spawn

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
USERNAME = PASSWORD = "admin"
REGION = "us-east-1"
# The local stack checks every request's signature against these (its functions use their own).
# The secret has 5+ characters: the secrets masker skips shorter ones, with a warning.
AWS_KEY_ID, AWS_SECRET = "test", "testing"
STOP_GRACE_SECONDS = 20.0
# The local AWS stops after the rest, and its own stop may take 10 s for pollers, 10 s for answers in
# progress, then its last save.
LOCAL_AWS_STOP_GRACE_SECONDS = 60.0
STOPPED_LAST = "local-aws"  # what Airflow's tasks write to: stopped once no task can write any more
READY_TIMEOUT_SECONDS = 240.0
EXECUTORS = ("LocalExecutor", "CeleryExecutor")


class StackError(RuntimeError):
    """The stack could not start, or a component died."""


@dataclass(frozen=True)
class Settings:
    home: Path = REPO / ".airflow"
    api_port: int = 8080
    aws_port: int = 4566
    dags_folder: Path = REPO / "dags"
    parallelism: int = 8
    executor: str = "LocalExecutor"
    database_url: str | None = None  # metadata DB as a SQLAlchemy URL; None: SQLite in ``home``
    broker_url: str | None = None  # Celery broker, e.g. redis://127.0.0.1:6379/0
    celery_workers: int = 1
    worker_concurrency: int = 4  # task slots per Celery worker
    tables_catalog_url: str | None = None  # Iceberg SqlCatalog URL; None: SQLite in ``home``
    demo_data: bool = True  # `up`: create the demo infrastructure, deploy functions, load samples
    extra_environment: tuple[tuple[str, str], ...] = ()  # more variables for every component

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise StackError(f"executor {self.executor!r} is not one of {EXECUTORS}")
        if self.executor != "CeleryExecutor":
            return
        if not self.database_url:
            raise StackError(
                "CeleryExecutor needs --database-url, e.g. postgresql+psycopg2://user:pw@host/db"
            )
        if self.database_url.startswith("sqlite"):
            raise StackError(f"CeleryExecutor cannot use SQLite ({self.database_url}): give a Postgres URL")
        if not self.broker_url:
            raise StackError("CeleryExecutor needs --broker-url, e.g. redis://127.0.0.1:6379/0")
        if self.celery_workers < 1 or self.worker_concurrency < 1:
            raise StackError("CeleryExecutor needs --celery-workers >= 1 and a worker concurrency >= 1")

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def aws_url(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    @property
    def pid_file(self) -> Path:
        return self.home / "devstack.json"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs" / "devstack"

    def environment(self) -> dict[str, str]:
        """Settings shared by every component; see "Airflow settings worth knowing" in docs/operations.md."""
        passwords = self.home / "simple_auth_manager_passwords.json"
        aws_connection = {
            "conn_type": "aws",
            "login": AWS_KEY_ID,
            "password": AWS_SECRET,
            "extra": {"endpoint_url": self.aws_url, "region_name": REGION},
        }
        return {
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__LAMBDAPIPE__TABLE_DEFINITIONS": "lambdapipe_demo.tables",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": self.executor,
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",  # user:role
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            # Log servers bind every interface: they are not started (--skip-serve-logs, logs are read
            # from local files), and free ports keep the API server from reading another Airflow's.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            # Each task of a run waits for a scheduler loop, which sleeps 1 s when idle by default:
            # a quarter of that takes ~2 s off an upload's put -> run finished (benchmarks/event_latency.py).
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.25",
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws_connection),
            "AWS_ENDPOINT_URL": self.aws_url,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": AWS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
            "LAMBDAPIPE_NODE_SDK_DIR": str(REPO / ".local" / "node-sdk"),
            # The local stack starts empty: the first commit creates the tables' warehouse bucket.
            "AIRFLOW__LAMBDAPIPE__TABLES_CREATE_BUCKET": "true",
            **self._database_environment(),
            **self._celery_environment(),
            **dict(self.extra_environment),
        }

    def _database_environment(self) -> dict[str, str]:
        environment = {}
        if self.database_url:
            environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = self.database_url
        else:  # SQLite in AIRFLOW_HOME: wait for its single writer's lock longer than sqlite3's 5 s
            args = "lambdapipe_demo.metadata_db.SQLITE_CONNECT_ARGS"
            environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS"] = args
            environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC"] = f"{args}_ASYNC"
        if self.tables_catalog_url:
            environment["AIRFLOW__LAMBDAPIPE__TABLES_CATALOG_URI"] = self.tables_catalog_url
        return environment

    def _celery_environment(self) -> dict[str, str]:
        """Broker, result backend (a table in the metadata DB) and the task slots of each worker."""
        if self.executor != "CeleryExecutor":
            return {}
        return {
            "AIRFLOW__CELERY__BROKER_URL": str(self.broker_url),
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{self.database_url}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
            # Extended results record which worker ran each task (celery_taskmeta.worker).
            "AIRFLOW__CELERY__EXTRA_CELERY_CONFIG": json.dumps({"result_extended": True}),
        }


# Settings a calling process may carry (a shell's AWS profile, a test's connections) that must not leak
# into a stack: each stack is configured only by its Settings.
FOREIGN_PREFIXES = ("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "AWS_", "LAMBDAPIPE_")


def write_shell_environment(settings: Settings, env: dict[str, str]) -> Path:
    """``<home>/env.sh``: a shell that sources it runs ``airflow``, ``lambdapipe`` and the include/
    scripts against this stack as its components do: the Airflow and AWS settings the shell had
    are unset (as ``stack_environment`` drops them), then the components' own values exported."""
    own = sorted(key for key in settings.environment() if key in env)
    prefixes = "|".join(FOREIGN_PREFIXES)
    lines = [
        "# Written by scripts/devstack.py at each start: the environment of this stack's components.",
        f"for name in $(env | grep -oE '^({prefixes})[A-Za-z0-9_]*'); do unset \"$name\"; done",
        f'export PATH={shlex.quote(str(BIN))}:"$PATH"',
        *(f"export {key}={shlex.quote(env[key])}" for key in own),
    ]
    target = settings.home / "env.sh"
    staged = target.with_suffix(".sh.tmp")
    staged.write_text("\n".join(lines) + "\n")
    staged.chmod(0o600)  # the stack's (local, dummy) credentials
    os.replace(staged, target)
    return target


def stack_environment(settings: Settings) -> dict[str, str]:
    """The caller's environment minus Airflow/AWS settings, plus the stack's own."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith(FOREIGN_PREFIXES)}
    return {**inherited, **settings.environment()}


@dataclass
class Component:
    name: str
    argv: list[str]
    health_url: str | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


LOOPBACK_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


def _get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with LOOPBACK_HTTP.open(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (OSError, ValueError):
        return 0, b""


def celery_worker(settings: Settings, number: int) -> Component:
    """Celery worker ``worker-<number>@<host>``: the name tells workers on one machine apart."""
    argv = [str(BIN / "airflow"), "celery", "worker", "--skip-serve-logs"]
    argv += ["--celery-hostname", f"worker-{number}@%h", "--concurrency", str(settings.worker_concurrency)]
    return Component(f"worker-{number}", argv)


def local_aws_installed() -> bool:
    return importlib.util.find_spec("lambdapipe_local.server") is not None


def components(settings: Settings) -> list[Component]:
    airflow = str(BIN / "airflow")
    stack = []
    if not local_aws_installed():
        print(
            "devstack: lambdapipe_local.server is not importable yet: starting without the local AWS server"
        )
    else:
        local_argv = [str(BIN / "lambdapipe"), "local", "--port", str(settings.aws_port)]
        local_argv += ["--state-dir", str(settings.home / "local-aws")]
        local_argv += ["--check-signatures", "--credentials", f"{AWS_KEY_ID}:{AWS_SECRET}"]
        stack.append(Component("local-aws", local_argv, f"{settings.aws_url}/_lambdapipe/health"))
    workers = settings.celery_workers if settings.executor == "CeleryExecutor" else 0
    return [
        *stack,
        Component("scheduler", [airflow, "scheduler", "--skip-serve-logs"]),
        Component("dag-processor", [airflow, "dag-processor"]),
        Component("triggerer", [airflow, "triggerer", "--skip-serve-logs"]),
        Component("api-server", [airflow, "api-server"], f"{settings.api_url}/api/v2/monitor/health"),
        *(celery_worker(settings, number) for number in range(1, workers + 1)),
    ]


def airflow_health(settings: Settings) -> dict | None:
    """Airflow's health document once the API server, scheduler, dag-processor and triggerer are up."""
    status, body = _get(f"{settings.api_url}/api/v2/monitor/health")
    if status != 200:
        return None
    health = json.loads(body)
    parts = ("metadatabase", "scheduler", "dag_processor", "triggerer")
    return health if all((health.get(p) or {}).get("status") == "healthy" for p in parts) else None


class Stack:
    """One stack's components; ``stop`` ends them and everything they spawned."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.components: list[Component] = []
        self.env = stack_environment(settings)

    def start(self) -> None:
        busy = [p for p in (self.settings.api_port, self.settings.aws_port) if _port_in_use(p)]
        if busy:
            raise StackError(f"port(s) {busy} already in use on 127.0.0.1: is a stack running? (make stop)")
        self.settings.log_dir.mkdir(parents=True, exist_ok=True)
        passwords = Path(self.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
        passwords.write_text(json.dumps({USERNAME: PASSWORD}))
        print(f"devstack: migrating the metadata database in {self.settings.home}", flush=True)
        migrate_log = self.settings.log_dir / "db-migrate.log"
        with migrate_log.open("wb") as log:
            migrate = subprocess.run(
                [str(BIN / "airflow"), "db", "migrate"], env=self.env, stdout=log, stderr=log
            )
        if migrate.returncode != 0:
            raise StackError(f"`airflow db migrate` failed (exit {migrate.returncode}): see {migrate_log}")
        write_shell_environment(self.settings, self.env)
        for component in components(self.settings):
            self.launch(component)

    def launch(self, component: Component) -> None:
        """Start one more component (e.g. another Celery worker), tracked and stopped like the others."""
        with (self.settings.log_dir / f"{component.name}.log").open("ab") as log:
            component.process = spawn(
                component.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # the terminal's Ctrl-C reaches only the launcher
            )
        self.components.append(component)
        recorded = {c.name: _identity(c.process.pid) for c in self.components if c.process}
        # Written whole then renamed: `make status`/`make stop` may read it while a component starts.
        staged = self.settings.pid_file.with_suffix(".json.tmp")
        staged.write_text(json.dumps({"launcher": _identity(os.getpid()), "components": recorded}, indent=2))
        os.replace(staged, self.settings.pid_file)

    def check_alive(self) -> None:
        for component in self.components:
            if component.process and component.process.poll() is not None:
                log = self.settings.log_dir / f"{component.name}.log"
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
                raise StackError(
                    f"{component.name} exited with {component.process.returncode}; {log}:\n{tail}"
                )

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        pending = [c for c in self.components if c.health_url]
        while pending or airflow_health(self.settings) is None:
            self.check_alive()
            if time.monotonic() > deadline:
                waiting = [c.name for c in pending] or ["scheduler/dag-processor/triggerer heartbeats"]
                raise StackError(f"not healthy after {timeout:.0f} s: waiting for {waiting}")
            pending = [c for c in pending if _get(c.health_url)[0] != 200]
            time.sleep(1)

    def stop(self) -> None:
        """End every process this launcher started, the local AWS last, so its last save holds all that
        Airflow's tasks wrote to it; Ctrl-C or SIGTERM cannot interrupt the shutdown."""
        with _signals_ignored():
            leaders: dict[str, psutil.Process] = {}
            for component in self.components:
                with contextlib.suppress(psutil.Error):
                    leaders[component.name] = psutil.Process(component.process.pid)
            stop_in_order(leaders)
            for component in self.components:
                if component.process:
                    component.process.wait()
            self.settings.pid_file.unlink(missing_ok=True)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _identity(pid: int) -> list[float]:
    """PID and seconds from boot to its start: a recycled PID never matches, so stop never signals a
    stranger."""
    return [pid, _started_after_boot(pid)]


def _started_after_boot(pid: int) -> float:
    """Seconds from boot to the process's start. psutil's start time is the boot time plus that, and on
    Linux the boot time moves with the wall clock (NTP steps it on a fresh VM): only this part is fixed."""
    while True:
        boot = psutil.boot_time()
        started = psutil.Process(pid).create_time()
        if psutil.boot_time() == boot:  # no clock step between the reads
            return round(started - boot, 2)


def _recorded(identity: list[float]) -> psutil.Process | None:
    with contextlib.suppress(psutil.Error):
        process = psutil.Process(int(identity[0]))
        if identity[1] > psutil.boot_time():  # a PID file from before this format: a wall-clock start
            started = process.create_time()
        else:
            started = _started_after_boot(process.pid)
        if started == identity[1] and _running(process):
            return process
    return None


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def stop_in_order(leaders: dict[str, psutil.Process]) -> None:
    """Stop the named components (and what they spawned): every one but the local AWS, then it."""
    stop_processes([p for name, p in leaders.items() if name != STOPPED_LAST], STOP_GRACE_SECONDS)
    if STOPPED_LAST in leaders:
        stop_processes([leaders[STOPPED_LAST]], LOCAL_AWS_STOP_GRACE_SECONDS)


def stop_processes(leaders: list[psutil.Process], grace: float) -> None:
    """SIGTERM each process, then SIGKILL it and whatever it spawned if still running after ``grace``."""
    spawned = []
    for leader in leaders:
        with contextlib.suppress(psutil.Error):
            spawned += leader.children(recursive=True)
    for leader in leaders:
        with contextlib.suppress(psutil.Error):
            leader.terminate()
    deadline = time.monotonic() + grace
    while any(_running(p) for p in leaders + spawned) and time.monotonic() < deadline:
        time.sleep(0.2)
    leftovers = [p for p in leaders + spawned if _running(p)]
    if leftovers:
        print(f"devstack: SIGKILL after {grace:.0f} s: {', '.join(map(_described, leftovers))}", flush=True)
        for process in leftovers:
            with contextlib.suppress(psutil.Error):
                process.kill()


def _described(process: psutil.Process) -> str:
    """PID and command line, shortened: which component (or child of one) would not stop."""
    with contextlib.suppress(psutil.Error):
        return f"{process.pid} ({' '.join(process.cmdline())[:120]})"
    return str(process.pid)


def running(settings: Settings) -> dict | None:
    """The PID file's record of a stack if any of its processes still runs; a stale file is removed."""
    if not settings.pid_file.exists():
        return None
    state = json.loads(settings.pid_file.read_text())
    if any(_recorded(i) for i in [state["launcher"], *state["components"].values()]):
        return state
    settings.pid_file.unlink()
    return None


def print_banner(settings: Settings) -> None:
    local_aws = _get(f"{settings.aws_url}/_lambdapipe/health")[0] == 200
    print(
        f"\n  Airflow UI   {settings.api_url}  (login {USERNAME} / {PASSWORD})"
        f"\n  Local AWS    {settings.aws_url if local_aws else 'not started'}"
        f"\n  Executor     {settings.executor}"
        f"\n  Logs         {settings.log_dir}\n",
        flush=True,
    )


@contextlib.contextmanager
def running_stack(settings: Settings) -> Iterator[Stack]:
    """Start the stack, wait until healthy, and stop it however the block ends."""
    if running(settings):
        raise StackError(f"a stack is already running (see {settings.pid_file}): make stop")
    stack = Stack(settings)
    before = stack_state.saved_stores(settings, with_local_aws=local_aws_installed())
    try:
        stack.start()
        stack.wait_ready()
        disagreement = stack_state.out_of_step(settings, before, stack.env, BIN / "lambdapipe")
        if disagreement:
            raise StackError(f"{disagreement}: {stack_state.reset_hint(settings, Settings.home)}")
        yield stack
    finally:
        stack.stop()


def up(settings: Settings) -> int:
    # Explicit handlers: a launcher started in the background inherits SIGINT ignored, and SIGTERM
    # (make stop) must shut down as cleanly as Ctrl-C.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    import demo_data  # the demo's AWS resources, deployed functions and sample data
    from airflow_api import ApiError

    # Before the stack is healthy: a demo waiting for this start's data must not see the last start's.
    demo_data.marker(settings).unlink(missing_ok=True)
    try:
        with running_stack(settings) as stack:
            if settings.demo_data:
                try:
                    demo_data.prepare(settings)
                except (demo_data.DemoDataError, ApiError, TimeoutError) as error:  # say why in one line
                    raise StackError(f"the demo data could not be prepared: {error}") from None
            print_banner(settings)
            print("devstack: ready; Ctrl-C stops every component", flush=True)
            while True:
                stack.check_alive()
                time.sleep(1)
    except KeyboardInterrupt:
        print("devstack: stopped", flush=True)
        return 0


def start(settings: Settings) -> int:
    if running(settings):
        raise StackError(f"a stack is already running (see {settings.pid_file}): make stop")
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    launcher_log = settings.log_dir / "devstack.log"
    with launcher_log.open("ab") as log:
        launcher = subprocess.Popen(
            [sys.executable, __file__, *_settings_argv(settings), "up"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    print(f"devstack: starting in the background (log: {launcher_log})", flush=True)
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS + 60
    while not (settings.pid_file.exists() and airflow_health(settings)):
        if launcher.poll() is not None:
            raise StackError(f"the stack did not start: see {launcher_log}")
        if time.monotonic() > deadline:
            stop(settings)
            raise StackError(f"the stack did not become healthy in time, stopped it: see {launcher_log}")
        time.sleep(1)
    print_banner(settings)
    return 0


def stop(settings: Settings) -> int:
    state = running(settings)
    if state is None:
        print("devstack: not running")
        return 0
    launcher = _recorded(state["launcher"])
    if launcher:  # it stops its components itself, within its own grace periods
        stop_processes([launcher], grace=STOP_GRACE_SECONDS + LOCAL_AWS_STOP_GRACE_SECONDS + 10)
    leftovers = {name: _recorded(identity) for name, identity in state["components"].items()}
    stop_in_order({name: process for name, process in leftovers.items() if process})  # launcher died
    settings.pid_file.unlink(missing_ok=True)
    print("devstack: stopped")
    return 0


def reset(settings: Settings) -> int:
    if running(settings):
        raise StackError(f"the stack in {settings.home} is running: make stop first")
    try:
        print(f"devstack: {stack_state.reset(settings)}")
    except ValueError as error:
        raise StackError(str(error)) from None
    return 0


def status(settings: Settings) -> int:
    """The stack's processes and health, and every orphan of ours; exits 1 only when there are orphans."""
    state = running(settings)
    if state is None:
        print("devstack: not running")
    else:
        for name, identity in {"launcher": state["launcher"], **state["components"]}.items():
            print(f"  {name:14} pid {int(identity[0]):<8} {'running' if _recorded(identity) else 'gone'}")
        print(f"  airflow health: {'healthy' if airflow_health(settings) else 'not healthy'}")
    left = orphans()
    for process in left:
        print(f"  orphan         pid {process.pid:<8} {process.command_line[:200]}")
    if left:
        print(f"devstack: {len(left)} process(es) of ours outlived their parent: end them with kill PID")
    return 1 if left else 0


def _settings_argv(settings: Settings) -> list[str]:
    argv = ["--home", str(settings.home), "--api-port", str(settings.api_port)]
    argv += ["--aws-port", str(settings.aws_port), "--executor", settings.executor]
    argv += ["--celery-workers", str(settings.celery_workers)]
    optional = {
        "--database-url": settings.database_url,
        "--broker-url": settings.broker_url,
        "--tables-catalog-url": settings.tables_catalog_url,
    }
    for option, value in optional.items():
        if value:
            argv += [option, value]
    if not settings.demo_data:
        argv.append("--no-demo-data")
    return argv


def settings_parser(description: str) -> argparse.ArgumentParser:
    """Options shared by devstack and the demo, so both can run a second stack beside `make run`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--home", type=Path, default=Settings.home, help="AIRFLOW_HOME (default: .airflow/)")
    parser.add_argument(
        "--api-port", type=int, default=Settings.api_port, help="Airflow API server / UI port"
    )
    parser.add_argument("--aws-port", type=int, default=Settings.aws_port, help="local AWS server port")
    parser.add_argument("--executor", choices=EXECUTORS, default=Settings.executor)
    parser.add_argument(
        "--database-url",
        help="metadata DB, e.g. postgresql+psycopg2://lambdapipe:lambdapipe@127.0.0.1/lambdapipe",
    )
    parser.add_argument("--broker-url", help="Celery broker, e.g. redis://127.0.0.1:6379/0")
    parser.add_argument("--celery-workers", type=int, default=Settings.celery_workers, help="Celery workers")
    parser.add_argument("--tables-catalog-url", help="Iceberg catalog DB (default: SQLite in the home)")
    parser.add_argument(
        "--no-demo-data",
        action="store_true",
        help="up: skip demo infrastructure, function deploys and samples",
    )
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings(
        home=args.home.resolve(),
        api_port=args.api_port,
        aws_port=args.aws_port,
        executor=args.executor,
        database_url=args.database_url,
        broker_url=args.broker_url,
        celery_workers=args.celery_workers,
        tables_catalog_url=args.tables_catalog_url,
        demo_data=not args.no_demo_data,
    )


def main(argv: list[str] | None = None) -> int:
    parser = settings_parser(__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "start", "stop", "status", "reset"])
    args = parser.parse_args(argv)
    actions = {"up": up, "start": start, "stop": stop, "status": status, "reset": reset}
    try:
        return actions[args.action](settings_from(args))
    except StackError as error:
        print(f"devstack: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
