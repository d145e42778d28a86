"""The stage server: a stage run by a forked child of a process with the libraries loaded
gives the same files, exit code and log as the same command run on its own."""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import os
import shlex
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from gym_churn.stages import _server
from tests.e2e_helpers import PROJECT, command_env, copy_project

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the stage server forks")

DVC = yaml.safe_load((PROJECT / "dvc.yaml").read_text())
SERVED = "run by the stage server (pid "


def _command(stage: str) -> list[str]:
    return shlex.split(DVC["stages"][stage]["cmd"])


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("served"))


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A temporary folder with a short path: a socket path must stay under 108 bytes."""
    with tempfile.TemporaryDirectory(dir="/tmp", prefix="gcs") as folder:
        yield Path(folder)


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    # its own socket folder (TMPDIR), so no other run's server answers
    return {**command_env(), "TMPDIR": str(tmp), "GYM_CHURN_LOG_LEVEL": "DEBUG", **extra}


def _run(cmd: list[str], cwd: Path, env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                          **kwargs)  # fmt: skip


def _wait_for_server(tmp: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for path in tmp.glob("gym-churn-*/*.sock"):
            with socket.socket(socket.AF_UNIX) as probe, contextlib.suppress(OSError):
                probe.connect(str(path))
                return
        time.sleep(0.2)
    raise AssertionError("no stage server came up")


def _digests(repo: Path, stage: str) -> dict[str, str]:
    spec = DVC["stages"][stage]
    declared = [*spec.get("outs", []), *spec.get("metrics", [])]
    outs = [next(iter(o)) if isinstance(o, dict) else o for o in declared]
    return {o: hashlib.md5((repo / o).read_bytes()).hexdigest() for o in outs}


def test_a_served_stage_writes_and_logs_what_it_does_on_its_own(
    repo: Path, short_tmp: Path
) -> None:
    alone = _run(_command("preprocess"), repo, _env(short_tmp, GYM_CHURN_SERVER="0"))
    assert alone.returncode == 0, alone.stderr
    assert SERVED not in alone.stderr
    assert not list(short_tmp.glob("gym-churn-*/*.sock"))  # off: no server started
    written = _digests(repo, "preprocess")

    first = _run(_command("preprocess"), repo, _env(short_tmp))  # starts one, runs here
    assert first.returncode == 0, first.stderr
    assert SERVED not in first.stderr
    _wait_for_server(short_tmp)
    served = _run(_command("preprocess"), repo, _env(short_tmp))
    assert served.returncode == 0, served.stderr
    assert SERVED in served.stderr
    assert _digests(repo, "preprocess") == written

    def logged(result: subprocess.CompletedProcess) -> list[str]:
        return [line for line in result.stderr.splitlines() if SERVED not in line]

    assert logged(served) == logged(alone)


def test_a_served_stage_fails_as_it_does_on_its_own(repo: Path, short_tmp: Path) -> None:
    bad = [*_command("split")]
    bad[bad.index("--params") + 1] = "missing.yaml"
    alone = _run(bad, repo, _env(short_tmp, GYM_CHURN_SERVER="0"))
    _run(_command("preprocess"), repo, _env(short_tmp))
    _wait_for_server(short_tmp)
    served = _run(bad, repo, _env(short_tmp))
    assert SERVED in served.stderr
    assert served.returncode == alone.returncode != 0
    assert alone.stderr.strip().splitlines()[-1] in served.stderr


def test_a_served_stage_writes_with_the_commands_umask(repo: Path, short_tmp: Path) -> None:
    _run(_command("preprocess"), repo, _env(short_tmp))
    _wait_for_server(short_tmp)
    served = _run(_command("preprocess"), repo, _env(short_tmp), preexec_fn=lambda: os.umask(0o077))
    assert SERVED in served.stderr
    assert (repo / "reports" / "preprocess.json").stat().st_mode & 0o777 == 0o600
    _run(_command("preprocess"), repo, _env(short_tmp, GYM_CHURN_SERVER="0"))  # as it was


def test_killing_the_command_kills_its_stage(repo: Path, short_tmp: Path) -> None:
    for stage in ("preprocess", "split"):
        _run(_command(stage), repo, _env(short_tmp, GYM_CHURN_SERVER="0"))
    _run(_command("split"), repo, _env(short_tmp))
    _wait_for_server(short_tmp)
    command = subprocess.Popen(_command("cluster"), cwd=repo, env=_env(short_tmp),
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert command.stderr is not None
    line = next(line for line in command.stderr if SERVED in line)
    child = int(line.split(SERVED)[1].split(")")[0])
    command.kill()  # SIGKILL: no chance to tidy up
    command.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.1)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _gone(path: Path, within: float = 120) -> bool:
    """Whether every process of the server on `path` ended (none holds its lock) in time."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _server._running(path):
            return True
        time.sleep(0.1)
    return False


def test_an_idle_server_exits_and_removes_its_socket(short_tmp: Path) -> None:
    path = short_tmp / "idle.sock"
    server = subprocess.Popen([sys.executable, "-m", "gym_churn.stages._server", str(path), "1"])
    assert server.wait(timeout=120) == 0
    assert _gone(path)  # the copy that loaded the rest too
    assert not path.exists()


def _listener(path: Path) -> int:
    """The pid of the process listening on the socket at `path`."""
    with socket.socket(socket.AF_UNIX) as probe:
        probe.connect(str(path))
        creds = probe.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[0]


def test_the_server_listens_with_the_basics_and_hands_over_once_all_is_loaded(
    short_tmp: Path,
) -> None:
    path = short_tmp / "s.sock"
    first = subprocess.Popen([sys.executable, "-m", "gym_churn.stages._server", str(path), "300"])
    deadline = time.monotonic() + 60
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    early = path.stat().st_ino
    assert _listener(path) == first.pid  # the first process, with pandas and matplotlib in
    # the copy loading the rest takes the socket over, and the first process ends (it would
    # wait five idle minutes otherwise)
    assert first.wait(timeout=240) == 0
    assert path.stat().st_ino != early
    copy = _listener(path)
    assert copy != first.pid
    os.kill(copy, signal.SIGTERM)
    assert _gone(path)


def test_a_library_that_fails_to_load_fails_the_server() -> None:
    def broken() -> None:
        raise ImportError("no such library")

    try:
        with pytest.raises(ImportError, match="no such library"):
            _server._load_when_idle([broken])
    finally:
        gc.unfreeze()  # this test process's objects: back within the collector's reach


def test_edited_code_gets_another_server(tmp_path: Path) -> None:
    package = tmp_path / "package"
    package.mkdir()
    module = package / "stage.py"
    module.write_text("x = 1\n")
    before = _server.fingerprint(package)
    assert _server.fingerprint(package) == before
    module.write_text("x = 2\n")
    os.utime(module, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert _server.fingerprint(package) != before


def test_the_socket_folder_must_be_this_users_alone(short_tmp: Path, tmp_path: Path) -> None:
    folder = short_tmp / "sockets"
    assert _server.socket_path(folder) == folder / f"{_server.fingerprint()}.sock"
    assert folder.stat().st_mode & 0o777 == 0o700
    folder.chmod(0o777)
    assert _server.socket_path(folder) is None  # others could put a socket there
    deep = tmp_path / ("x" * 120)
    deep.mkdir(mode=0o700)
    assert _server.socket_path(deep / "sockets") is None  # too long for a socket: no server


def test_no_server_when_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GYM_CHURN_SERVER", "0")
    assert not _server.enabled()
    assert _server.served("split", []) is None


def test_run_stage_returns_the_exit_code_a_process_would(capsys: pytest.CaptureFixture) -> None:
    assert _server.run_stage("split", ["--no-such-option"]) == 2  # argparse's usage error
    assert "usage" in capsys.readouterr().err
    assert _server.run_stage("split", ["--help"]) == 0
    assert _server.run_stage("no_such_stage", []) == 1  # an uncaught error: traceback, 1
    assert "Traceback" in capsys.readouterr().err


# ---------------------------------------------------------------- the command's side, in process


def _fake_server(path: Path, reply: bytes, seen: list) -> threading.Thread:
    """A server that takes one request and answers `reply` (then hangs up)."""
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listening.bind(str(path))
    listening.listen(1)

    def answer() -> None:
        conn, _ = listening.accept()
        with conn:
            request, fds = _server._receive(conn)
            for fd in fds:
                os.close(fd)
            seen.append(request)
            conn.sendall(reply)
        listening.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (_server.STARTED + _server.CODE.pack(3), 3),  # the stage's own exit code
        (_server.STARTED, 1),  # the child ended without one: the stage failed
        (b"", None),  # the server hung up before the stage started: run it here
    ],
)
def test_the_command_exits_with_what_the_server_says(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch, reply: bytes, code: int | None
) -> None:
    path = short_tmp / "fake.sock"
    monkeypatch.setattr(_server, "socket_path", lambda: path)
    monkeypatch.setenv("GYM_CHURN_SERVER", "1")
    seen: list = []
    thread = _fake_server(path, reply, seen)
    assert _server.served("split", ["--params", "p.yaml"]) == code
    thread.join(timeout=10)
    (request,) = seen
    assert request["stage"] == "split"
    assert request["options"] == ["--params", "p.yaml"]
    assert request["cwd"] == os.getcwd()
    assert request["umask"] == _server._umask()
    assert request["env"]["GYM_CHURN_SERVER"] == "1"


def test_a_stale_socket_starts_a_server_and_the_stage_runs_here(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = short_tmp / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as gone:
        gone.bind(str(path))  # a socket file nobody listens on: its server died
    started: list[Path] = []
    monkeypatch.setattr(_server, "socket_path", lambda: path)
    monkeypatch.setattr(_server, "start", started.append)
    monkeypatch.setenv("GYM_CHURN_SERVER", "1")
    assert _server.served("split", []) is None
    assert started == [path]
    # while a server holds the lock (it is loading), no second one is started
    lock = _server._lock(path)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        assert _server.served("split", []) is None
        assert started == [path]
        stale = path.stat().st_ino
        _server.serve(path, idle=0)  # a second server gives way at once
        assert path.stat().st_ino == stale  # it bound no socket of its own in its place
    finally:
        os.close(lock)


def test_no_server_where_the_socket_folder_is_unsafe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GYM_CHURN_SERVER", "1")
    monkeypatch.setattr(_server, "socket_path", lambda: None)
    assert _server.served("split", []) is None
