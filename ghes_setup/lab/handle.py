"""`LabHandle`: a running lab as the tests (and benchmarks) see it.

The pytest fixtures in tests/fixtures/lab.py hand one of these out. Everything a test needs to
point the tool at the lab (site file, env, CA, known_hosts, key, credentials), to inject faults,
and to look behind the appliance's back for assertions (settings files, ghe-config.log, how
many config applies ran) without going through the client under test.

`prepare_registry()` takes the lab to "isolation on, the site certificate, Packages on with the
lab storage, applied, registry answering" with the lab's own tools (settings files + labd's
apply engine), so registry tests do not depend on the configuration code.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ghes_setup.lab import apply as engine
from ghes_setup.lab import client, faults, state
from ghes_setup.lab import settings as keys
from ghes_setup.lab.layout import LabConfig, Layout, Ports, load_config
from ghes_setup.lab.service import env_vars
from ghes_setup.lab.settings import SettingsStore, fresh_settings


class LabCommandError(RuntimeError):
    """A lab control command failed (labd down, apply failed, reset refused)."""


@dataclass(frozen=True, eq=False)
class LabHandle:
    dir: Path
    hostname: str
    address: str
    ports: Ports
    ghes_version: str
    site_path: Path
    ca_file: Path
    known_hosts: Path
    identity: Path
    admin_password: str
    write_token: str
    read_token: str
    user: str
    namespace: str
    s3_access_key: str
    s3_secret_key: str
    bucket: str
    service_url: str
    site_cert: Path  # the desired certificate chain (HOSTNAME + *.HOSTNAME, leaf first)
    site_key: Path
    cert_dir: Path  # holds ca.crt: `skopeo --cert-dir`
    hosts_file: Path  # /etc/hosts naming the lab hosts: `with_hosts()`
    env: dict[str, str] = field(default_factory=dict)
    fine_grained_token: str = ""  # github_pat_...: the REST API knows it, Packages does not

    # ------------------------------------------------------------------ construction
    @classmethod
    def open(cls, directory: Path) -> LabHandle:
        layout = Layout(directory)
        c = load_config(layout)
        return cls(
            dir=layout.root,
            hostname=c.hostname,
            address=c.address,
            ports=c.ports,
            ghes_version=c.ghes_version,
            site_path=layout.site,
            ca_file=layout.ca_file,
            known_hosts=layout.known_hosts,
            identity=layout.identity,
            admin_password=c.admin_password,
            write_token=c.write_token.value,
            read_token=c.read_token.value,
            user=c.user,
            namespace=c.namespace,
            s3_access_key=c.s3_access_key,
            s3_secret_key=c.s3_secret_key,
            bucket=c.bucket,
            service_url=c.service_url,
            site_cert=layout.site_cert,
            site_key=layout.site_key,
            cert_dir=layout.cert_dir,
            hosts_file=layout.hosts_file,
            env=env_vars(layout, c),
            fine_grained_token=c.fine_grained_token.value if c.fine_grained_token else "",
        )

    @property
    def layout(self) -> Layout:
        return Layout(self.dir)

    @property
    def config(self) -> LabConfig:
        return load_config(self.layout)

    @property
    def registry_host(self) -> str:
        return f"containers.{self.hostname}"

    @property
    def azure_connection_string(self) -> str:
        """Azurite's connection string for the lab (GHES_SETUP_AZURE_CONNECTION_STRING)."""
        return self.config.azure_connection_string

    @property
    def azure_container(self) -> str:
        return self.config.azure_container

    @property
    def storage_dir(self) -> Path:
        """The registry's filesystem root when Packages uses Azure (with S3 or MinIO its blobs
        are in the lab's S3 server)."""
        return self.layout.bucket(self.bucket)

    # ------------------------------------------------------------------ faults
    def fault(self, name: str, count: int = 1) -> None:
        """Arm a fault (see ghes_setup.lab.faults); lasting ones take effect before returning."""
        faults.set_fault(self.layout, name, count)
        if name in faults.LASTING:
            self._call("lab-reconcile")

    def clear_faults(self) -> None:
        lasting = any(name in faults.LASTING for name in faults.active(self.layout))
        faults.clear(self.layout)
        if lasting:
            self._call("lab-reconcile")

    def active_faults(self) -> dict[str, str]:
        return faults.active(self.layout)

    def fired_faults(self) -> list[str]:
        """Lines of DIR/faults/fired.log: one per time a fault fired."""
        return faults.fired(self.layout)

    # ------------------------------------------------------------------ looking behind
    def settings(self) -> dict[str, str]:
        """github.conf + secrets.conf as key -> value, read directly from the files."""
        return SettingsStore(self.layout).read_all()

    def applied_settings(self) -> dict[str, str]:
        """The settings of the last successful config apply."""
        return state.read_applied(self.layout)

    def log_text(self) -> str:
        """ghe-config.log (emptied by reset())."""
        try:
            return self.layout.config_log.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""

    def apply_runs(self) -> int:
        """How many config applies were started (by ghe-config-apply, the API or the lab)."""
        return sum(1 for run in engine.load_runs(self.layout) if run.origin != "setup")

    def last_run(self) -> engine.Run | None:
        runs = engine.load_runs(self.layout)
        return runs[-1] if runs else None

    def authorized_keys(self) -> list[str]:
        path = self.layout.authorized_keys
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def maintenance_on(self) -> bool:
        return state.read_maintenance(self.layout).active()

    def set_maintenance(self, on: bool) -> None:
        """Maintenance on or off, written as the appliance's state (not through the API)."""
        state.write_maintenance(
            self.layout, state.Maintenance(status="on") if on else state.Maintenance()
        )

    def set_topology(self, name: str, *, replica: bool = False) -> None:
        """Present topology `name` (SingleNode, Ha, Cluster) in the Manage API; with `replica`
        the node the tool talks to is a replica. `reset()` returns to SingleNode."""
        state.write_topology(self.layout, state.Topology(name, replica))

    def topology(self) -> state.Topology:
        return state.read_topology(self.layout)

    def set_ghe_config_unset(self, style: str) -> None:
        """How the admin shell's `ghe-config KEY` answers for an unset key: `empty` (an empty
        line, exit 0: the default, as the real one may) or `exit1` (no output, exit 1).
        `reset()` returns to `empty`."""
        if style not in ("empty", "exit1"):
            raise ValueError(f"style {style!r}: empty or exit1")
        path = self.layout.state / "ghe-config-unset"
        if style == "empty":
            path.unlink(missing_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("exit1\n", encoding="ascii")
            path.chmod(0o644)

    # ------------------------------------------------------------------ control
    def _call(self, cmd: str, *args: str, timeout: float = 300) -> client.Answer:
        try:
            answer = client.call(self.layout, cmd, *args, timeout=timeout)
        except client.ControlError as exc:
            raise LabCommandError(str(exc)) from None
        if answer.code != 0:
            raise LabCommandError(f"{cmd} failed: {answer.stderr.strip() or answer.result}")
        return answer

    def wait_apply_idle(self, timeout: float = 60) -> None:
        self._call("lab-wait-idle", str(timeout), timeout=timeout + 5)

    def reset(self) -> None:
        """Back to a fresh appliance: settings, front door, registry stopped, maintenance off,
        faults cleared, admin keys, empty storage, empty ghe-config.log."""
        self._call("lab-reset")

    def set_settings(self, values: dict[str, str | None]) -> None:
        """Write settings straight into the files (None unsets), as ghe-config would."""
        SettingsStore(self.layout).update(values)

    def apply(self, *, check: bool = True) -> engine.Run:
        """Run a config apply with the lab's engine and wait for it; with `check`, raise
        LabCommandError if it fails. Returns the run (successful, failure, events)."""
        try:
            answer = client.call(self.layout, "lab-apply")
        except client.ControlError as exc:
            raise LabCommandError(str(exc)) from None
        run_id = answer.result.get("run_id")
        if run_id is None or (check and answer.code != 0):
            raise LabCommandError(f"config apply failed: {answer.result or answer.stderr.strip()}")
        return next(r for r in reversed(engine.load_runs(self.layout)) if r.run_id == run_id)

    def desired_settings(self) -> dict[str, str]:
        """The ghe-config values of the site file's desired state (isolation, certificate,
        Packages with the lab storage: MinIO is configured as `s3`, ghes-facts §2.2)."""
        return {
            keys.ISOLATION: "true",
            keys.SSL_ENABLED: "true",
            keys.SSL_CERT: self.site_cert.read_text(encoding="utf-8"),
            keys.SSL_KEY: self.site_key.read_text(encoding="utf-8"),
            keys.PACKAGES_ENABLED: "true",
            keys.STORAGE_TYPE: "s3",
            keys.SERVICE_URL: self.service_url,
            keys.BUCKET: self.bucket,
            keys.ACCESS_KEY: self.s3_access_key,
            keys.SECRET_KEY: self.s3_secret_key,
        }

    def prepare_registry(self, timeout: float = 60) -> None:
        """Isolation on + desired certificate + Packages with storage, applied, registry up.

        The settings become exactly a fresh appliance's plus `desired_settings()` (anything a
        test changed, e.g. a read-only container ecosystem, is undone); maintenance is turned
        off. Nothing is applied when the lab is already in that state, which includes a last
        configuration run that succeeded. After a run a test failed (`apply-fail`), the lab's
        own apply replaces it, and ghes-setup's record of it in the admin's HOME is removed:
        over SSH, `appliance-config-apply` reads the last run ghes-setup started, and would
        go on reporting the failure.
        """
        self.wait_apply_idle(timeout)
        target = {**fresh_settings(self.config), **self.desired_settings()}
        if state.read_maintenance(self.layout).status != "off":
            state.write_maintenance(self.layout, state.Maintenance())
        last = self.last_run()
        if (
            self.settings() == target
            and self.applied_settings() == target
            and (last is None or last.successful)
            and self.registry_answers()
        ):
            return
        SettingsStore(self.layout).replace_all(target)
        self.apply()
        if last is not None and not last.successful:
            shutil.rmtree(self.layout.tool_state, ignore_errors=True)
        deadline = time.monotonic() + timeout
        while not self.registry_answers():
            if time.monotonic() > deadline:
                raise LabCommandError("the registry does not answer at containers.HOSTNAME/v2/")
            time.sleep(0.02)

    # ------------------------------------------------------------------ reaching the lab
    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def https(
        self,
        method: str,
        path: str,
        *,
        host: str | None = None,
        port: int | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        verify: bool = True,
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTPS request to the front door with SNI and Host = `host` (default HOSTNAME)."""
        name = host or self.hostname
        port = port or self.ports.https
        ctx = self.ssl_context()
        if not verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection((self.address, port), timeout=10)
        conn = http.client.HTTPSConnection(name, port, context=ctx, timeout=10)
        conn.sock = ctx.wrap_socket(raw, server_hostname=name)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def registry_answers(self) -> bool:
        try:
            status, headers, _ = self.https("GET", "/v2/", host=self.registry_host)
        except OSError:
            return False
        return status == 401 and headers.get("www-authenticate", "").startswith("Bearer ")

    def with_hosts(self, argv: list[str]) -> list[str]:
        """`argv` run in a private mount namespace whose /etc/hosts names the lab hosts, so that
        tools that resolve with glibc (skopeo, curl) reach the lab without touching /etc/hosts."""
        script = 'mount --bind "$0" /etc/hosts && exec "$@"'
        return ["unshare", "-m", "sh", "-c", script, str(self.hosts_file), *argv]

    def run_with_hosts(
        self, argv: list[str], *, timeout: float = 300, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run `with_hosts(argv)`; the caller checks the return code."""
        return subprocess.run(
            self.with_hosts(argv),
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            env=env,
        )

    def cli(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run `python -m ghes_setup lab ARGS --dir DIR` in a subprocess."""
        proc = subprocess.run(
            [sys.executable, "-m", "ghes_setup", "lab", *args, "--dir", str(self.dir)],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise LabCommandError(
                f"lab {' '.join(args)} failed ({proc.returncode}): {proc.stderr}{proc.stdout}"
            )
        return proc

    def status(self) -> dict[str, object]:
        return dict(json.loads(self.cli("status", "--format", "json", check=False).stdout))
