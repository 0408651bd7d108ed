"""Tests for the local launcher behind `make run` (the parts that do not need the services)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import IO

import httpx
import nats
import pytest

from deploy.local import run
from tests.factories import organization
from tests.harness import free_port, token

VENV_NATS = Path(sys.executable).parent / "nats-server"
needs_nats = pytest.mark.skipif(not VENV_NATS.is_file(), reason="no nats-server in the venv")


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something is listening on for the duration of the test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((run.HOST, 0))
        listener.listen()
        yield listener.getsockname()[1]


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


# --- the environment each service gets -------------------------------------------------------


def test_service_env_defaults(tmp_path: Path) -> None:
    environ = {"PATH": "/usr/bin", "PB_COVERAGE_PORT": "9999"}

    env = run.build_service_env("registry", 8001, tmp_path, "nats://127.0.0.1:4222", environ)

    assert env["NATS_URL"] == "nats://127.0.0.1:4222"
    assert env["PB_REGISTRY_PORT"] == "8001"
    assert env["PB_REGISTRY_DATABASE_URL"] == (
        f"sqlite+aiosqlite:///{tmp_path.resolve().as_posix()}/registry.db"
    )
    assert env["PB_REGISTRY_DATABASE_URL"].startswith("sqlite+aiosqlite:////")  # absolute path
    assert env["PATH"] == "/usr/bin"  # the rest of the environment is passed on
    assert env["PB_COVERAGE_PORT"] == "9999"  # another service's setting is left alone
    assert environ == {"PATH": "/usr/bin", "PB_COVERAGE_PORT": "9999"}  # not mutated


def test_service_env_respects_preset_port_and_database_url(tmp_path: Path) -> None:
    postgres = "postgresql+asyncpg://pb:secret@db:5432/stations"
    environ = {"PB_STATIONS_PORT": "9103", "PB_STATIONS_DATABASE_URL": postgres}

    env = run.build_service_env("stations", 8003, tmp_path, "nats://n:4222", environ)

    assert env["PB_STATIONS_PORT"] == "9103"
    assert env["PB_STATIONS_DATABASE_URL"] == postgres


def test_started_nats_url_replaces_an_inherited_one(tmp_path: Path) -> None:
    env = run.build_service_env("training", 8004, tmp_path, "nats://127.0.0.1:4223", {})
    assert env["NATS_URL"] == "nats://127.0.0.1:4223"


def test_service_spec_uses_the_preset_port(tmp_path: Path) -> None:
    spec = run.service_spec("coverage", tmp_path, "nats://x:4222", {"PB_COVERAGE_PORT": "9102"})

    assert spec.port == 9102
    assert spec.url == "http://127.0.0.1:9102"
    assert spec.database_url.endswith("/coverage.db")
    assert spec.command == [sys.executable, "-m", "services.coverage"]


@pytest.mark.parametrize("name", run.SPLIT_SERVICES)
def test_a_split_service_runs_its_api_beside_a_worker(tmp_path: Path, name: str) -> None:
    """`make run` starts coverage as two processes on one store: the API (role api) and
    `python -m services.coverage worker` on the API's port + 100."""
    api = run.service_spec(name, tmp_path, "nats://x:4222", {})
    prefix = f"PB_{name.upper()}_"
    assert api.env[f"{prefix}ROLE"] == "api"
    assert api.command == [sys.executable, "-m", f"services.{name}"]

    assert_beside(api, run.worker_spec(api), "worker", run.WORKER_PORT_OFFSET)


def assert_beside(
    main: run.ServiceSpec, beside: run.ServiceSpec | None, role: str, offset: int
) -> None:
    """`beside` is the process of `main`'s service in `role`: its command, port and store."""
    name, prefix = main.service, f"PB_{main.service.upper()}_"
    assert beside is not None
    assert beside.name == f"{name}-{role}"
    assert beside.command == [sys.executable, "-m", f"services.{name}", role]
    assert beside.port == main.port + offset
    assert beside.database_url == main.database_url
    assert beside.env[f"{prefix}ROLE"] == role
    assert beside.env[f"{prefix}PORT"] == str(beside.port)


def test_a_service_run_whole_has_no_worker(tmp_path: Path) -> None:
    """`PB_<NAME>_ROLE=all` runs a split service as one process again; the registry is run
    whole but for its relay (its API's writes and its import's stay in one process, behind one
    writer queue: docs/registry.md)."""
    whole = run.service_spec("coverage", tmp_path, "nats://x:4222", {"PB_COVERAGE_ROLE": "all"})
    assert run.worker_spec(whole) is None
    assert run.worker_spec(run.service_spec("registry", tmp_path, "nats://x:4222", {})) is None


@pytest.mark.parametrize("name", run.RELAY_SERVICES)
def test_a_service_with_a_relay_process_runs_it_beside(tmp_path: Path, name: str) -> None:
    """`make run` relays the registry's outbox from a process of its own: the service with
    `PB_REGISTRY_RELAY_PROCESS=true`, and `python -m services.registry relay` on its port + 200
    (`PB_REGISTRY_RELAY_PORT` another); `PB_REGISTRY_RELAY_PROCESS=false` relays in the service."""
    prefix = f"PB_{name.upper()}_"
    main = run.service_spec(name, tmp_path, "nats://x:4222", {})
    assert main.env[f"{prefix}RELAY_PROCESS"] == "true"
    assert main.command == [sys.executable, "-m", f"services.{name}"]

    assert_beside(main, run.relay_spec(main), "relay", run.RELAY_PORT_OFFSET)

    moved = run.service_spec(name, tmp_path, "nats://x:4222", {f"{prefix}RELAY_PORT": "9301"})
    assert (relay_moved := run.relay_spec(moved)) is not None
    assert relay_moved.port == 9301
    inline = run.service_spec(name, tmp_path, "nats://x:4222", {f"{prefix}RELAY_PROCESS": "false"})
    assert run.relay_spec(inline) is None
    # read as the service reads it: any boolean pydantic takes, and nothing else
    short = run.service_spec(name, tmp_path, "nats://x:4222", {f"{prefix}RELAY_PROCESS": "y"})
    assert run.relay_spec(short) is not None
    with pytest.raises(run.LauncherError, match=f"{prefix}RELAY_PROCESS"):
        run.relay_spec(
            run.service_spec(name, tmp_path, "nats://x:4222", {f"{prefix}RELAY_PROCESS": "maybe"})
        )
    assert run.relay_spec(run.service_spec("coverage", tmp_path, "nats://x:4222", {})) is None
    with pytest.raises(run.LauncherError, match=f"{prefix}RELAY_PORT"):
        run.relay_spec(
            run.service_spec(name, tmp_path, "nats://x:4222", {f"{prefix}RELAY_PORT": "x"})
        )


def test_service_spec_rejects_a_port_that_is_not_a_number(tmp_path: Path) -> None:
    with pytest.raises(run.LauncherError, match="PB_REGISTRY_PORT"):
        run.service_spec("registry", tmp_path, "nats://x:4222", {"PB_REGISTRY_PORT": "eighty"})


def test_default_ports() -> None:
    assert run.SERVICE_PORTS == {
        "registry": 8001,
        "coverage": 8002,
        "stations": 8003,
        "training": 8004,
    }


# --- command line -----------------------------------------------------------------------------


def test_only_keeps_start_order_and_rejects_unknown_names() -> None:
    assert run.parse_only("training, registry") == ["registry", "training"]
    with pytest.raises(argparse.ArgumentTypeError, match="unknown service"):
        run.parse_only("registry,billing")
    with pytest.raises(argparse.ArgumentTypeError):
        run.parse_only(" , ")


def test_argument_defaults() -> None:
    args = run.parse_args([])
    assert args.only == list(run.SERVICE_PORTS)
    assert args.nats_port is None  # 4222, or the next free port when it is taken
    assert args.nats_monitor_port is None
    assert args.timeout == 60.0
    assert args.no_wait is False
    assert args.data_dir == run.REPO_ROOT / ".data"


def test_first_free_port_skips_a_taken_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert run.first_free_port(port) > port


def test_redact_url_hides_passwords() -> None:
    assert run.redact_url("postgresql+asyncpg://pb:secret@db:5432/x") == (
        "postgresql+asyncpg://pb:***@db:5432/x"
    )
    assert run.redact_url("sqlite+aiosqlite:////tmp/x.db") == "sqlite+aiosqlite:////tmp/x.db"


def test_describe_exit() -> None:
    assert run.describe_exit(3) == "exited with code 3"
    assert run.describe_exit(-9) == "was killed by SIGKILL"


# --- finding nats-server ----------------------------------------------------------------------


@needs_nats
def test_find_nats_server_finds_the_venv_binary() -> None:
    assert run.find_nats_server() == VENV_NATS


def test_find_nats_server_falls_back_to_path(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    binary = bin_dir / "nats-server"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    python = tmp_path / "elsewhere" / "python"  # no nats-server beside it

    assert run.find_nats_server(str(python), search_path=str(bin_dir)) == binary


def test_missing_nats_server_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(run.LauncherError, match=r"nats-server not found.*NATS_URL"):
        run.find_nats_server(str(tmp_path / "python"), search_path=str(tmp_path))


# --- starting and stopping nats-server --------------------------------------------------------


@pytest.mark.integration
@needs_nats
def test_start_nats_comes_up_healthy_and_shutdown_stops_it(tmp_path: Path) -> None:
    port, monitor_port = free_port(), free_port()

    nats = run.start_nats(tmp_path, port, monitor_port, timeout=20)
    try:
        assert nats.url == f"nats://127.0.0.1:{port}"
        assert nats.process.poll() is None
        assert run.accepts_tcp(run.HOST, port)
        assert run.http_ok(f"http://127.0.0.1:{monitor_port}/healthz?js-enabled-only=true")
        assert (tmp_path / "nats").is_dir()
        assert wait_for(lambda: "Server is ready" in nats.log_path.read_text())
        assert nats.log_path == tmp_path / "logs" / "nats.log"
    finally:
        run.shutdown([], nats, grace=10)

    assert nats.process.returncode is not None
    assert wait_for(lambda: run.port_is_free(port))
    assert (tmp_path / "nats" / "jetstream").is_dir()  # the store stays for the next run


def test_busy_nats_port_is_a_clear_error(tmp_path: Path, busy_port: int) -> None:
    with pytest.raises(run.LauncherError) as caught:
        run.start_nats(tmp_path, busy_port, free_port(), binary=VENV_NATS)

    message = str(caught.value)
    assert f"Port {busy_port} on 127.0.0.1 is already in use" in message
    assert f"NATS_URL=nats://127.0.0.1:{busy_port} make run" in message
    assert "--nats-port" in message
    assert not (tmp_path / "logs" / "nats.log").exists()  # nothing was started


def test_busy_monitor_port_is_a_clear_error(tmp_path: Path, busy_port: int) -> None:
    with pytest.raises(run.LauncherError, match="--nats-monitor-port"):
        run.start_nats(tmp_path, free_port(), busy_port, binary=VENV_NATS)


def test_main_exits_1_with_the_hint_when_the_nats_port_is_busy(
    tmp_path: Path,
    busy_port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("NATS_URL", raising=False)

    code = run.main(["--data-dir", str(tmp_path), "--nats-port", str(busy_port)])

    assert code == 1
    assert f"NATS_URL=nats://127.0.0.1:{busy_port} make run" in capsys.readouterr().err


def test_main_exits_1_when_the_external_nats_is_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NATS_URL", f"nats://user:pw@127.0.0.1:{free_port()}")

    code = run.main(["--data-dir", str(tmp_path)])

    err = capsys.readouterr().err
    assert code == 1
    assert "nothing answers" in err
    assert "pw@" not in err  # the password is not printed


# --- the process plumbing, with a stand-in process instead of a service -----------------------

FAKE_SERVICE = textwrap.dedent(
    """
    import http.server, os, sys
    port = int(os.environ["PB_REGISTRY_PORT"])
    print("fake registry on", port, flush=True)
    if os.environ.get("FAKE_EXIT"):
        print("fatal: cannot open the store", flush=True)
        sys.exit(int(os.environ["FAKE_EXIT"]))
    class Ready(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/readyz" else 404)
            self.end_headers()
        def log_message(self, *args):
            pass
    http.server.HTTPServer(("127.0.0.1", port), Ready).serve_forever()
    """
)


def fake_spec(tmp_path: Path, **extra: str) -> run.ServiceSpec:
    environ = {**os.environ, "PB_REGISTRY_PORT": str(free_port()), **extra}
    return run.service_spec("registry", tmp_path, "nats://127.0.0.1:1", environ)


@pytest.mark.integration
def test_service_output_goes_to_its_log_and_prefixed_to_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = fake_spec(tmp_path)
    service = run.start_service(
        spec, tmp_path / "logs", command=[sys.executable, "-c", FAKE_SERVICE]
    )
    try:
        run.wait_ready(service, timeout=20)
    finally:
        run.shutdown([service], None, grace=5)

    assert service.process.returncode is not None
    assert service.log_path == tmp_path / "logs" / "registry.log"
    assert f"fake registry on {spec.port}" in service.log_path.read_text()
    out = capsys.readouterr().out
    assert f"[registry] fake registry on {spec.port}" in out
    assert "everything stopped" in out


@pytest.mark.integration
def test_wait_ready_reports_a_service_that_exits(tmp_path: Path) -> None:
    service = run.start_service(
        fake_spec(tmp_path, FAKE_EXIT="3"),
        tmp_path / "logs",
        command=[sys.executable, "-c", FAKE_SERVICE],
    )

    with pytest.raises(run.LauncherError, match="registry exited with code 3") as caught:
        run.wait_ready(service, timeout=20)

    assert caught.value.log_path == service.log_path
    assert run.tail_lines(service.log_path)[-1] == "fatal: cannot open the store"


@pytest.mark.integration
def test_wait_ready_times_out(tmp_path: Path) -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    service = run.start_service(fake_spec(tmp_path), tmp_path / "logs", command=sleeper)
    try:
        with pytest.raises(run.LauncherError, match=r"was not ready within 0\.5 s"):
            run.wait_ready(service, timeout=0.5)
    finally:
        run.shutdown([service], None, grace=5)
    assert service.process.returncode == -15  # stopped by SIGTERM


@pytest.mark.integration
def test_wait_ready_stops_on_a_stop_signal(tmp_path: Path) -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    service = run.start_service(fake_spec(tmp_path), tmp_path / "logs", command=sleeper)
    try:
        with pytest.raises(run.StartInterruptedError):
            run.wait_ready(service, timeout=20, stop=run.StopRequest(signals=1))
    finally:
        run.shutdown([service], None, grace=5)


@pytest.mark.integration
def test_stop_processes_kills_what_ignores_sigterm() -> None:
    ignore_sigterm = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    stubborn = subprocess.Popen(
        [sys.executable, "-c", ignore_sigterm],
        stdout=subprocess.PIPE,
        process_group=0,
    )
    assert stubborn.stdout is not None
    with stubborn.stdout:
        assert stubborn.stdout.readline() == b"ready\n"
        started = time.monotonic()

        killed = run.stop_processes([stubborn], grace=0.5)

    assert killed == [stubborn]
    assert stubborn.returncode == -9
    assert time.monotonic() - started < 5


def test_tail_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {n}\n" for n in range(100)))

    assert run.tail_lines(log) == [f"line {n}" for n in range(70, 100)]
    assert run.tail_lines(tmp_path / "missing.log") == []


def test_summary_lists_every_url_and_the_token_hint(tmp_path: Path) -> None:
    spec = run.service_spec("stations", tmp_path, "nats://127.0.0.1:4222", {})
    process = subprocess.Popen([sys.executable, "-c", ""])
    process.wait()
    service = run.RunningService(spec, process, tmp_path / "s.log", threading.Thread())

    text = run.summary([service], "nats://127.0.0.1:4222", None, tmp_path, waited=True)

    for expected in (
        "http://127.0.0.1:8003 ",
        "http://127.0.0.1:8003/docs",
        "http://127.0.0.1:8003/metrics",
        spec.database_url,
        "nats://127.0.0.1:4222",
        str(tmp_path),
        "make token REGION=140212",
    ):
        assert expected in text


# --- supervision: what dies is started again ---------------------------------------------------


def test_restart_delays_back_off_and_start_over_once_stable() -> None:
    restarts = run.Restarts(started_at=0.0)
    delays = []
    now = 1.0
    for _ in range(8):  # dying at once after each start
        delays.append(restarts.died(now))
        now = restarts.due or now
        assert restarts.is_due(now)
        restarts.started(now)
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    # up for longer than STABLE_SECONDS: the next death waits the first delay again
    assert restarts.died(now + run.STABLE_SECONDS) == 1.0


@pytest.mark.integration
@needs_nats
def test_the_supervisor_starts_again_what_died_in_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nats = run.start_nats(tmp_path, free_port(), free_port(), timeout=20)
    service = run.start_service(
        fake_spec(tmp_path), tmp_path / "logs", command=[sys.executable, "-c", FAKE_SERVICE]
    )
    stop = run.StopRequest()
    supervisor = threading.Thread(target=run.supervise, args=([service], nats, stop))
    try:
        run.wait_ready(service, timeout=20)
        first_nats, first_service = nats.process, service.process
        supervisor.start()
        first_nats.kill()
        first_service.kill()
        assert wait_for(lambda: nats.process is not first_nats, timeout=10)
        assert wait_for(lambda: "registry is ready again" in capsys.readouterr().out, timeout=20)
        assert service.process is not first_service
        assert service.process.poll() is None
        assert nats.process.poll() is None
        assert run.http_ok(nats.health_url)
    finally:
        stop.signals += 1
        if supervisor.is_alive():
            supervisor.join(timeout=10)
        run.shutdown([service], nats, grace=5)
    # the log of each kept what the one that died wrote
    assert service.log_path.read_text().count("fake registry on") == 2
    assert nats.log_path.read_text().count("Server is ready") == 2


class LauncherOutput:
    """The launcher's output, read line by line in a thread, searchable while it runs."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def launcher_lines(self) -> list[str]:
        return [line for line in self.lines if line.startswith("[run]")]

    def wait_line(self, pattern: str, timeout: float) -> re.Match[str]:
        """The first launcher line matching `pattern` (a regular expression)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if found := re.search(pattern, line):
                    return found
            time.sleep(0.05)
        raise AssertionError(
            f"no line /{pattern}/ within {timeout:g} s; the launcher said:\n"
            + "\n".join(self.launcher_lines())
        )


async def _coverage_consumer(nats_url: str) -> tuple[int, int, int]:
    """Coverage's durable consumer of the registry's events: (ack floor, pending, unacked)."""
    client = await nats.connect(nats_url, connect_timeout=1, allow_reconnect=False)
    try:
        info = await client.jetstream(timeout=2).consumer_info("PB_REGISTRY", "coverage-registry")
        assert info.ack_floor is not None
        return info.ack_floor.stream_seq, info.num_pending or 0, info.num_ack_pending or 0
    finally:
        await client.close()


def coverage_consumer(nats_url: str) -> tuple[int, int, int] | None:
    try:
        return asyncio.run(_coverage_consumer(nats_url))
    except Exception:  # noqa: BLE001 - not there yet
        return None


def register_and_see_coverage_apply(registry_url: str, nats_url: str, n: int) -> float:
    """Register an organisation; wait until coverage has applied and acknowledged every event
    of the registry (its ack floor moves, nothing pending). Returns the seconds it took."""
    started = time.monotonic()
    before = None
    while before is None and time.monotonic() - started < 20:
        before = coverage_consumer(nats_url)
    assert before is not None, "coverage's consumer was never found"
    headers = {"Authorization": f"Bearer {token('140212')}"}
    response = httpx.post(
        f"{registry_url}/v1/organizations", json=organization(n), headers=headers, timeout=10
    )
    assert response.status_code == 201, response.text

    def applied() -> bool:
        now = coverage_consumer(nats_url)
        return now is not None and now[0] > before[0] and now[1:] == (0, 0)

    assert wait_for(applied, timeout=30), "coverage did not apply the registry's event"
    return time.monotonic() - started


@pytest.mark.integration
@needs_nats
def test_make_run_starts_again_a_killed_nats_server_and_a_killed_service(tmp_path: Path) -> None:
    """`python -m deploy.local.run` with the four services on SQLite: nats-server killed with
    SIGKILL is started again on its store and the services carry on (an organisation
    registered afterwards reaches coverage); a killed service is started again and ready; and
    Ctrl-C still stops everything."""
    ports = {name: free_port() for name in run.SERVICE_PORTS}
    nats_port = free_port()
    nats_url = f"nats://127.0.0.1:{nats_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PB_") and k != "NATS_URL"}
    env |= {f"PB_{name.upper()}_PORT": str(port) for name, port in ports.items()}
    env |= {"PB_LOG_LEVEL": "WARNING", "PB_INBOX_FETCH_SECONDS": "0.5"}
    command = [
        *(sys.executable, "-m", "deploy.local.run", "--data-dir", str(tmp_path)),
        *("--nats-port", str(nats_port), "--nats-monitor-port", str(free_port())),
        *("--timeout", "90"),
    ]
    launcher = subprocess.Popen(
        command,
        cwd=run.REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = LauncherOutput(launcher)
    children: list[int] = []
    try:
        nats_pid = int(out.wait_line(r"nats-server ready at .* \(pid (\d+)", 30)[1])
        children.append(nats_pid)
        for name in run.SERVICE_PORTS:
            children.append(int(out.wait_line(rf"\[run\] started {name} \(pid (\d+)\)", 30)[1]))
        out.wait_line(r"^Local stack is up\.", 90)
        registry = f"http://127.0.0.1:{ports['registry']}"
        register_and_see_coverage_apply(registry, nats_url, 1)

        os.kill(nats_pid, signal.SIGKILL)
        killed = time.monotonic()
        out.wait_line(r"nats-server was killed by SIGKILL; starting it again in 1 s", 10)
        children.append(int(out.wait_line(r"nats-server started again \(pid (\d+)\)", 15)[1]))
        for name, port in ports.items():
            assert wait_for(partial(run.http_ok, f"http://127.0.0.1:{port}/readyz"), 15), name
        register_and_see_coverage_apply(registry, nats_url, 2)
        settled = time.monotonic() - killed  # an ack in flight at the kill waits the ack wait
        print(f"nats-server killed: coverage has every event acknowledged {settled:.1f} s later")

        coverage_pid = children[1 + list(run.SERVICE_PORTS).index("coverage")]
        os.kill(coverage_pid, signal.SIGKILL)
        killed = time.monotonic()
        out.wait_line(r"coverage was killed by SIGKILL; starting it again in 1 s", 10)
        children.append(int(out.wait_line(r"coverage started again \(pid (\d+)\)", 15)[1]))
        out.wait_line(r"coverage is ready again", 45)
        register_and_see_coverage_apply(registry, nats_url, 3)
        print(f"coverage killed: ready and applying again {time.monotonic() - killed:.1f} s later")

        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(timeout=30) == 0
        out.wait_line(r"everything stopped", 5)
        for pid in children:
            assert wait_for(partial(_gone, pid), timeout=5), f"pid {pid} still runs"
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
        for pid in children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
