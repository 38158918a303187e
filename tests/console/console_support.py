"""Processes for the console's browser tests: a FerretDB and a `flowmetrics serve` (or
`flowmetrics console`), each on its own loopback port with its own directory, stopped at exit.

Ports are picked as tests/support/ferretdb_process.cpp picks them (below the ephemeral range,
reserved with an flock under /tmp/flowmetrics-test-ports for the life of this process), so that
the C++ test binaries that ctest runs beside this one never take them.
"""
import fcntl
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

_held_ports = []


def eventually(condition, timeout, what):
    """Polls `condition` until it returns a true value (returned), or raises after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


def free_loopback_port():
    directory = "/tmp/flowmetrics-test-ports"
    os.makedirs(directory, exist_ok=True)
    rng = random.Random(os.getpid() ^ time.time_ns())
    for _ in range(200):
        port = 20_000 + rng.randrange(12_000)
        handle = open(os.path.join(directory, str(port)), "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                handle.close()
                continue
        _held_ports.append(handle)
        return port
    raise RuntimeError("no free loopback port in 20000-31999")


class Process:
    """A child process whose output goes to a log file; killed (with its group) at stop()."""

    def __init__(self, argv, log_path, env=None):
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.popen = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      env=env, start_new_session=True)

    def log(self):
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()

    def running(self):
        return self.popen.poll() is None

    def stop(self):
        if self.running():
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=15)
        self._log.close()


class FerretDb:
    def __init__(self, binary, directory):
        self.port = free_loopback_port()
        self.process = Process([binary, "--listen", f"127.0.0.1:{self.port}", "--sqlite-dir",
                                os.path.join(directory, "data"), "--log-level", "error"],
                               os.path.join(directory, "ferretdb.log"))
        ready = f"ready mongodb://127.0.0.1:{self.port}/"

        def up():
            if not self.process.running():
                raise RuntimeError(f"FerretDB ({binary}) exited at start-up:\n{self.process.log()}")
            return ready in self.process.log()
        eventually(up, 30, "FerretDB ready")
        self.uri = f"mongodb://127.0.0.1:{self.port}/"

    def stop(self):
        self.process.stop()


def write_config(directory, uri, collection, extra_toml=""):
    """A configuration for `flowmetrics` in `directory` (its spool there too); returns its path."""
    os.makedirs(directory, exist_ok=True)
    config = os.path.join(directory, "flowmetrics.toml")
    with open(config, "w") as f:
        f.write(f'[database]\nuri = "{uri}"\ndatabase = "flowmetrics_console_test"\n'
                f'collection = "{collection}"\n'
                '[pool]\nmin_size = 2\nmax_size = 16\n'
                f'[spool]\ndirectory = "{os.path.join(directory, "spool")}"\n'
                '[inputs.netflow]\nenabled = false\n[inputs.sflow]\nenabled = false\n[inputs.tcp]\nenabled = false\n'
                '[inputs.http]\nlisten = "127.0.0.1:0"\n' + extra_toml)
    return config


def clean_environment():
    """This process's environment without the variables that would override the test's config."""
    return {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETRICS_") and k != "MONGODB_URI"}


class Flowmetrics:
    """`flowmetrics serve` or `flowmetrics console` with a generated configuration."""

    def __init__(self, binary, directory, uri, collection, command="serve", extra_toml="", args=()):
        config = write_config(directory, uri, collection, extra_toml)
        argv = [binary, command, "--config", config, *args]
        self.process = Process(argv, os.path.join(directory, f"{command}.log"), env=clean_environment())
        pattern = re.compile(r"(?:http input|console) listening on (127\.0\.0\.1:\d+)")

        def bound():
            match = pattern.search(self.process.log())
            if match:
                return match.group(1)
            if not self.process.running():
                raise RuntimeError(f"flowmetrics {command} did not start:\n{self.process.log()}")
            return None
        self.address = eventually(bound, 60, f"flowmetrics {command} listening")
        self.base = f"http://{self.address}"

    def post_records(self, records, token=None):
        body = "".join(json.dumps(r) + "\n" for r in records).encode()
        request = urllib.request.Request(self.base + "/v1/metrics", data=body, method="POST",
                                         headers={"Content-Type": "application/x-ndjson"})
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.load(response)
        if answer.get("accepted") != len(records):
            raise RuntimeError(f"records not all accepted: {answer}")

    def get_json(self, path, token=None):
        request = urllib.request.Request(self.base + path)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            try:
                return error.code, json.load(error)
            except ValueError:
                return error.code, None

    def stop(self):
        self.process.stop()


class Workdir:
    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="flowmetrics-console-test-")

    def sub(self, name):
        path = os.path.join(self.path, name)
        os.makedirs(path, exist_ok=True)
        return path

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)
