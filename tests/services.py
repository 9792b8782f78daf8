"""Real services for the tests, started as subprocesses that listen on 127.0.0.1 only and contact
nothing beyond it:

- a LiveKit server, built from its Go module by `./dev livekit-server` (fixtures `livekit_server`,
  session-scoped, and `livekit_server_factory`, for tests that kill a server);
- a throwaway PostgreSQL from Debian's packages (fixture `postgres`, session-scoped).

Where a service cannot be had (no Go, no PostgreSQL), its tests skip with one line saying how to get
it; under CI=true such a skip is a failure instead.
"""
from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import warnings
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parent.parent
API_KEY, API_SECRET = "devkey", "secret"    # livekit-server --dev's placeholder keys
LOOPBACK = "127.0.0.1"


def unavailable(reason: str):
    """Skip the test for want of a service, or fail it under CI=true."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_until(condition, timeout: float, what: str, interval: float = 0.05):
    """Poll `condition` until it returns something true; that value, or TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g}s")
        time.sleep(interval)


def sockets_of(pid: int) -> list:
    """(kind, local ip, port) of every TCP listener and UDP socket of a process."""
    out = []
    for c in psutil.Process(pid).net_connections(kind="inet"):
        if c.type == socket.SOCK_STREAM and c.status == psutil.CONN_LISTEN:
            out.append(("tcp", c.laddr.ip, c.laddr.port))
        elif c.type == socket.SOCK_DGRAM:
            out.append(("udp", c.laddr.ip, c.laddr.port))
    return sorted(out)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------- LiveKit

def livekit_server_version() -> str:
    """The pinned release: LIVEKIT_SERVER_VERSION in ./dev, the one place it is written."""
    match = re.search(r"^LIVEKIT_SERVER_VERSION=(\S+)", (REPO / "dev").read_text(), re.M)
    assert match, "./dev names no LIVEKIT_SERVER_VERSION"
    return match.group(1)


def livekit_server_binary() -> Path:
    """The built server: $LIVEKIT_SERVER_BIN (./dev test sets it), else ./dev's cache."""
    env = os.environ.get("LIVEKIT_SERVER_BIN")
    if env:
        if os.access(env, os.X_OK):
            return Path(env)
        unavailable(f"LIVEKIT_SERVER_BIN={env} is not an executable file")
    built = REPO / ".cache" / "livekit-server" / livekit_server_version() / "livekit-server"
    if os.access(built, os.X_OK):
        return built
    if shutil.which("go") is None:
        unavailable("no LiveKit server: install Go >= 1.26, then `./dev livekit-server` "
                    "(or `./dev test`) builds it")
    unavailable("no LiveKit server built yet: `./dev livekit-server` (or `./dev test`) builds it "
                "with Go, a few minutes the first time")


def livekit_config(http_port: int, udp_port: int, stun_port: int) -> str:
    """livekit-server's YAML for a loopback-only server (keys as in pkg/config and
    mediatransportutil's rtcconfig of v1.13.5)."""
    return f"""\
# a throwaway LiveKit server for the tests: listens on 127.0.0.1 only, contacts nothing
port: {http_port}
bind_addresses: ["{LOOPBACK}"]
keys:
  {API_KEY}: {API_SECRET}
rtc:
  # WebRTC media over one UDP port (ICE UDP mux), bound per local address that passes `ips`
  udp_port: {udp_port}
  ips:
    includes: ["{LOOPBACK}/32"]
  enable_loopback_candidate: true
  # ICE over TCP off: its listener binds every address and has no bind option
  tcp_port: 0
  # no STUN lookup of a public IP; the address given to clients is this one
  use_external_ip: false
  node_ip: {LOOPBACK}
  # the STUN servers the clients are told: without any, the server hands them Google's public
  # ones. This port is held by the fixture and never answered (it must not be udp_port: the
  # client's ICE stack eats every packet from a STUN server's address as a STUN response)
  stun_servers: ["{LOOPBACK}:{stun_port}"]
turn:
  enabled: false
logging:
  level: info
"""


class LiveKitServer:
    """One livekit-server process (`--dev`, keys devkey/secret) on free loopback ports."""

    def __init__(self, binary: Path | None = None, workdir: Path | None = None):
        self.binary = Path(binary or livekit_server_binary())
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="agentnb-livekit-"))
        self._own_workdir = workdir is None
        self.api_key, self.api_secret = API_KEY, API_SECRET
        self.proc: subprocess.Popen | None = None
        self.port = self.udp_port = self.stun_port = None
        self._stun_sink: socket.socket | None = None
        self.startup_seconds = None     # from spawn until it answers HTTP

    @property
    def url(self) -> str:
        return f"ws://{LOOPBACK}:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def log_path(self) -> Path:
        return self.workdir / "livekit-server.log"

    def start(self, timeout: float = 30) -> "LiveKitServer":
        for attempt in range(3):        # a port taken between choosing it and binding it: retry
            # Held open for the server's life so nothing else takes it; never read.
            self._stun_sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._stun_sink.bind((LOOPBACK, 0))
            self.stun_port = self._stun_sink.getsockname()[1]
            self.port, self.udp_port = free_port(), free_port(socket.SOCK_DGRAM)
            config = self.workdir / "livekit.yaml"
            config.write_text(livekit_config(self.port, self.udp_port, self.stun_port))
            started = time.monotonic()
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(
                    [str(self.binary), "--config", str(config), "--dev"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    cwd=self.workdir, start_new_session=True)
            try:
                wait_until(lambda: self.proc.poll() is not None or self.answers(),
                           timeout, f"livekit-server on {self.http_url}")
            except TimeoutError:
                self.kill()
                raise RuntimeError(f"livekit-server did not answer on {self.http_url} within "
                                   f"{timeout}s; its log:\n{_tail(self.log_path)}") from None
            if self.proc.poll() is None:
                self.startup_seconds = time.monotonic() - started
                return self
            self._close_sink()
            log_tail = _tail(self.log_path)
            if "address already in use" not in log_tail or attempt == 2:
                raise RuntimeError(f"livekit-server exited with {self.proc.returncode}; "
                                   f"its log:\n{log_tail}")
        raise AssertionError("unreachable")

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.http_url, timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def sockets(self) -> list:
        return sockets_of(self.pid)

    def token(self, identity: str, room: str, *, name: str | None = None,
              kind: str | None = None, **grants) -> str:
        """An access token for `room`; grants (api.VideoGrants' fields) default to join, publish,
        subscribe, data and updating one's own metadata/attributes (set_attributes needs that).
        `kind`: the participant kind, e.g. "agent"."""
        from livekit import api
        options = dict(room_join=True, room=room, can_update_own_metadata=True)
        options.update(grants)
        token = (api.AccessToken(self.api_key, self.api_secret).with_identity(identity)
                 .with_grants(api.VideoGrants(**options)))
        if name:
            token = token.with_name(name)
        if kind:
            token = token.with_kind(kind)
        with warnings.catch_warnings():     # PyJWT warns that "secret" is a short HMAC key
            warnings.simplefilter("ignore")
            return token.to_jwt()

    def stop(self, timeout: float = 10):
        """SIGTERM, then SIGKILL if it has not exited within `timeout`."""
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_sink()

    def kill(self):
        """SIGKILL: the server dies at once, as in a crash."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._close_sink()

    def cleanup(self):
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _close_sink(self):
        if self._stun_sink is not None:
            self._stun_sink.close()
            self._stun_sink = None

    def __repr__(self):
        return f"LiveKitServer({self.url}, pid={self.proc and self.proc.pid})"


@pytest.fixture(scope="session")
def livekit_server():
    """A LiveKit server for the whole session; tests must not kill it (use the factory)."""
    server = LiveKitServer(livekit_server_binary()).start()
    yield server
    server.cleanup()


@pytest.fixture
def livekit_server_factory():
    """Starts fresh LiveKit servers (call it: `server = livekit_server_factory()`); all are
    stopped after the test. For tests that kill or restart a server."""
    binary = livekit_server_binary()
    servers = []

    def start() -> LiveKitServer:
        servers.append(LiveKitServer(binary).start())
        return servers[-1]

    yield start
    for server in servers:
        server.cleanup()


# ------------------------------------------------------------------------------------- PostgreSQL

def postgres_bindir() -> Path | None:
    """Where initdb, pg_ctl and postgres are: on PATH, else Debian's /usr/lib/postgresql/N/bin
    (the newest N)."""
    pg_ctl, initdb = shutil.which("pg_ctl"), shutil.which("initdb")
    if pg_ctl and initdb:
        return Path(os.path.realpath(pg_ctl)).parent
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                    key=lambda d: int(re.sub(r"\D", "", Path(d).parent.name) or 0), reverse=True):
        if all((Path(d) / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(d)
    return None


class Postgres:
    """A throwaway PostgreSQL cluster in a temp dir: 127.0.0.1 only, a free port, its unix socket
    in the temp dir, trust authentication for its superuser `agentnb`.

    PostgreSQL refuses to run as root, so as root the server runs as Debian's `postgres` user
    (its package creates it) or, lacking that, `nobody`; otherwise as the current user."""

    user, database = "agentnb", "agentnb_test"

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.base = Path(tempfile.mkdtemp(prefix="agentnb-pg-"))
        self.data = self.base / "data"
        self.log_path = self.base / "postgres.log"
        self.port = None
        self.run_as = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    self.run_as = pwd.getpwnam(name)
                    break
                except KeyError:
                    pass
            if self.run_as is None:
                raise RuntimeError("running as root, and neither a `postgres` nor a `nobody` "
                                   "user exists to run PostgreSQL as")
            os.chown(self.base, self.run_as.pw_uid, self.run_as.pw_gid)

    @property
    def url(self) -> str:
        """For SQLAlchemy's asyncio engine (ADK's DatabaseSessionService): the asyncpg driver."""
        return f"postgresql+asyncpg://{self.user}@{LOOPBACK}:{self.port}/{self.database}"

    @property
    def dsn(self) -> str:
        """A libpq URL (psql, psycopg, asyncpg.connect)."""
        return f"postgresql://{self.user}@{LOOPBACK}:{self.port}/{self.database}"

    @property
    def pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def _owner(self, cmd: list) -> list:
        """`cmd` run as the cluster's owner."""
        if self.run_as is None:
            return cmd
        if shutil.which("runuser"):
            return ["runuser", "-u", self.run_as.pw_name, "--", *cmd]
        return ["setpriv", f"--reuid={self.run_as.pw_uid}", f"--regid={self.run_as.pw_gid}",
                "--clear-groups", *cmd]

    def _run(self, cmd: list, owner: bool = True, timeout: float = 120):
        result = subprocess.run(self._owner(cmd) if owner else cmd, cwd=self.base,
                                stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=timeout)
        if result.returncode:
            raise RuntimeError(f"{' '.join(cmd)} exited with {result.returncode}:\n"
                               f"{result.stdout}{result.stderr}\n{_tail(self.log_path)}")
        return result

    def start(self) -> "Postgres":
        self._run([str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.user,
                   "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"])
        for attempt in range(3):        # a port taken between choosing it and binding it: retry
            self.port = free_port()
            options = (f"-c listen_addresses={LOOPBACK} -p {self.port} "
                       f"-c unix_socket_directories={self.base} "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
            try:
                self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l",
                           str(self.log_path), "-o", options, "-w", "-t", "60", "start"])
                break
            except RuntimeError:
                if "could not bind" not in _tail(self.log_path) or attempt == 2:
                    raise
        self._run([str(self.bindir / "createdb"), "-h", LOOPBACK, "-p", str(self.port),
                   "-U", self.user, self.database], owner=False)
        return self

    def stop(self):
        if (self.data / "postmaster.pid").exists():
            self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "stop",
                       "-m", "immediate", "-w"])

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def __repr__(self):
        return f"Postgres({self.dsn})"


@pytest.fixture(scope="session")
def postgres():
    bindir = postgres_bindir()
    if bindir is None:
        unavailable("no PostgreSQL server programs (initdb, pg_ctl): `./dev test` installs "
                    "Debian's postgresql package, or apt-get install postgresql")
    try:
        import asyncpg  # noqa: F401  the driver the URL names
    except ImportError:
        unavailable("no asyncpg (PostgreSQL's asyncio driver): pip install asyncpg")
    server = Postgres(bindir).start()
    yield server
    server.cleanup()
