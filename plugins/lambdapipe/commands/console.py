"""How the ``lambdapipe`` commands talk to a shell: quiet by default, user errors in one line.

Airflow, the Amazon provider and botocore log several INFO lines per client (credentials found,
endpoint resolved, no connection id); a command shows them only with ``-v``. Its own progress
(the ``lambdapipe`` loggers) stays visible as plain lines. A mistake the user can fix (a function
that does not exist, an endpoint nobody listens on, an AWS error) ends the command with one line
naming it and exit code 1, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType


def add_verbose_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="also show Airflow's, the provider's and botocore's logs"
    )


def add_aws_flags(parser: argparse.ArgumentParser) -> None:
    """Where a command reaches AWS: the usual AWS environment, or an Airflow connection."""
    parser.add_argument("--aws-conn-id", default=None, help="Airflow connection (default: AWS environment)")
    parser.add_argument("--region", default=None, help="AWS region (default: from the environment)")


def quiet_libraries(verbose: bool) -> None:
    """Keep library chatter off stderr, or with ``-v`` show it at INFO whatever the environment
    says; call before anything imports Airflow (it reads this once).

    ERROR, not WARNING: a command's own failures are printed by ``exit_code_of``, and the warnings
    seen on healthy calls (no ``aws_default`` connection, so the AWS environment is used) only alarm.
    """
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "INFO" if verbose else "ERROR"


def show_progress(verbose: bool) -> None:
    """Print the ``lambdapipe`` loggers' INFO lines as plain text on stderr (Airflow's handler, set
    to ERROR by ``quiet_libraries``, would drop them); with ``-v`` Airflow's handler shows them."""
    if verbose:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("lambdapipe")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


@contextlib.contextmanager
def airflow_logs_to_stderr() -> Iterator[None]:
    """Airflow, once imported, logs to the ``sys.stdout`` of that moment: stdout is for results."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


class Terminated(KeyboardInterrupt):
    """SIGTERM (a cancelled CI job, ``kill``): unwinds the command like Ctrl-C, so it cleans up too."""


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _stop(signum: int, frame: FrameType | None) -> None:
    """The first Ctrl-C or SIGTERM unwinds the command; later ones are ignored, so they cannot cut its
    cleanup short (a second Ctrl-C, or the SIGTERM a CI system sends after its SIGINT)."""
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_IGN)
    raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt


@contextlib.contextmanager
def stopped_by_signals() -> Iterator[None]:
    """Ctrl-C and SIGTERM stop the command through an exception its cleanup sees. Set explicitly:
    a command a script starts with ``&`` inherits SIGINT ignored, and SIGTERM would end it on the spot
    (a deploy's alias left splitting traffic). Only the main thread can set handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {stop_signal: signal.signal(stop_signal, _stop) for stop_signal in STOP_SIGNALS}
    try:
        yield
    finally:
        for stop_signal, handler in previous.items():
            if handler is not None:  # None: set outside Python, nothing to put back
                signal.signal(stop_signal, handler)


def exit_code_of(prog: str, command: Callable[[], int]) -> int:
    """Run ``command``; a user error ends it with one line on stderr and exit code 1, Ctrl-C with 130
    and SIGTERM with 143 (after the command cleaned up, e.g. a deploy put its alias back)."""
    from botocore.exceptions import BotoCoreError, ClientError

    with airflow_logs_to_stderr():  # the hook's module imports Airflow
        from lambdapipe.hooks.lambda_function import FunctionNotFoundError

    try:
        with stopped_by_signals():
            return command()
    except Terminated:
        print(f"{prog}: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except FunctionNotFoundError as error:
        print(f"{prog}: {error}", file=sys.stderr)
    except ClientError as error:
        print(f"{prog}: AWS refused: {error}", file=sys.stderr)
    except BotoCoreError as error:  # no endpoint listening, no credentials, a bad region
        print(f"{prog}: cannot reach AWS: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    return 1
