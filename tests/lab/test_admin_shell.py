"""The lab's admin shell: real OpenSSH sshd, the lab's ghe-* commands, paramiko as the client."""

from __future__ import annotations

import json
from pathlib import Path

import paramiko
import pytest

from ghes_setup.lab import pki
from ghes_setup.lab.handle import LabHandle
from tests.lab.conftest import Shell, connect
from tests.storage_clients import s3_keys

pytestmark = pytest.mark.lab


def test_ghe_config_set_then_get_and_list(fresh_lab: LabHandle, shell: Shell) -> None:
    assert shell.run("ghe-config app.lab.test-key hello") == (0, "", "")
    assert shell.run("ghe-config app.lab.test-key") == (0, "hello\n", "")
    assert shell.run("ghe-config --get app.lab.test-key") == (0, "hello\n", "")
    code, out, _ = shell.run("ghe-config -l")
    assert code == 0
    assert "app.lab.test-key=hello" in out.splitlines()
    assert "core.github-hostname=" + fresh_lab.hostname in out.splitlines()
    assert fresh_lab.settings()["app.lab.test-key"] == "hello"


def test_ghe_config_unset_key_prints_an_empty_value_by_default(
    fresh_lab: LabHandle, shell: Shell
) -> None:
    """The real ghe-config may print an empty value for an unset key (docs/lab.md)."""
    assert shell.run("ghe-config app.lab.never-set") == (0, "\n", "")
    assert shell.run("ghe-config --get app.lab.never-set") == (0, "\n", "")


def test_ghe_config_unset_key_exits_1_when_asked(fresh_lab: LabHandle, shell: Shell) -> None:
    fresh_lab.set_ghe_config_unset("exit1")
    assert shell.run("ghe-config app.lab.never-set") == (1, "", "")
    fresh_lab.reset()
    assert shell.run("ghe-config app.lab.never-set") == (0, "\n", "")


def test_secrets_keys_are_stored_in_secrets_conf(fresh_lab: LabHandle, shell: Shell) -> None:
    assert shell.run("ghe-config secrets.packages.s3-bucket my-bucket")[0] == 0
    layout = fresh_lab.layout
    assert "my-bucket" in layout.secrets_conf.read_text()
    assert "my-bucket" not in layout.github_conf.read_text()
    # -l lists secrets too (lab choice, documented).
    assert "secrets.packages.s3-bucket=my-bucket" in shell.run("ghe-config -l")[1].splitlines()


def test_true_and_unset(fresh_lab: LabHandle, shell: Shell) -> None:
    assert shell.run("ghe-config --true core.subdomain-isolation")[0] == 1
    assert shell.run("ghe-config core.subdomain-isolation true")[0] == 0
    assert shell.run("ghe-config --true core.subdomain-isolation")[0] == 0
    assert shell.run("ghe-config --unset core.subdomain-isolation")[0] == 0
    assert shell.run("ghe-config --unset core.subdomain-isolation")[0] == 0  # already default
    assert "core.subdomain-isolation" not in fresh_lab.settings()


def test_multiline_pem_value_round_trips(fresh_lab: LabHandle, shell: Shell) -> None:
    pem = fresh_lab.site_cert.read_text()
    code, _, err = shell.run('ghe-config github-ssl.cert "$(cat)"', stdin=pem)
    assert code == 0, err
    assert fresh_lab.settings()["github-ssl.cert"] == pem.rstrip("\n")
    code, out, _ = shell.run("ghe-config -l -z")
    entries = dict(item.split("\n", 1) for item in out.split("\0") if item)
    assert entries["github-ssl.cert"] == pem.rstrip("\n")


def test_ghe_version_prints_the_lab_version(lab: LabHandle, shell: Shell) -> None:
    code, out, _ = shell.run("ghe-version")
    assert code == 0
    fields = out.split()
    assert fields[:4] == ["GitHub", "Enterprise", "Server", lab.ghes_version]


def test_session_environment_points_at_this_lab(lab: LabHandle, shell: Shell) -> None:
    code, out, _ = shell.run('echo "$LABDIR|$HOME|$(command -v ghe-config)|$(id -un)"')
    assert code == 0
    labdir, home, ghe_config, user = out.strip().split("|")
    assert Path(labdir) == lab.dir
    assert Path(home) == lab.dir / "home"
    assert Path(ghe_config) == lab.dir / "ssh" / "bin" / "ghe-config"
    assert user == "admin"


def test_changed_host_key_is_rejected(lab: LabHandle, tmp_path: Path) -> None:
    _, other = pki.ssh_keypair()
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[{lab.address}]:{lab.ports.ssh} {other.decode()}\n")
    with pytest.raises(paramiko.BadHostKeyException):
        connect(lab, wrong)


def test_unknown_host_key_is_rejected(lab: LabHandle, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        connect(lab, empty)


def test_ghe_config_apply_over_ssh_streams_progress_and_succeeds(
    fresh_lab: LabHandle, shell: Shell
) -> None:
    before = fresh_lab.apply_runs()
    code, out, err = shell.run("ghe-config-apply")
    assert code == 0, err
    assert "Validating configuration" in out
    assert out.strip().splitlines()[-1] == "Configuration run complete"
    assert fresh_lab.apply_runs() == before + 1
    assert "Configuration run complete" in fresh_lab.log_text()


def test_second_ghe_config_apply_while_running_is_refused(
    fresh_lab: LabHandle, shell: Shell
) -> None:
    code, _, err = shell.run(
        "ghe-config-apply >/dev/null & sleep 0.1; ghe-config-apply; rc=$?; wait; exit $rc"
    )
    assert code == 1
    assert "already in progress" in err


def test_maintenance_mode_toggles_status_endpoint(fresh_lab: LabHandle, shell: Shell) -> None:
    assert shell.run("ghe-maintenance -q") == (0, "maintenance mode not set\n", "")
    assert fresh_lab.https("GET", "/status")[0] == 200
    assert shell.run("ghe-maintenance -s")[0] == 0
    assert shell.run("ghe-maintenance -q") == (0, "maintenance mode set\n", "")
    assert fresh_lab.https("GET", "/status")[0] == 503
    assert shell.run("ghe-maintenance -u")[0] == 0
    assert fresh_lab.https("GET", "/status")[0] == 200


def test_export_then_import_settings_round_trip(fresh_lab: LabHandle, shell: Shell) -> None:
    assert shell.run("ghe-config app.lab.exported yes")[0] == 0
    code, out, _ = shell.run("ghe-export-settings")
    assert code == 0
    exported = json.loads(out)
    assert exported["enterprise"]["github_hostname"] == fresh_lab.hostname
    assert exported["ghe_config"]["app.lab.exported"] == "yes"
    assert not any(k.startswith("secrets.") for k in exported["ghe_config"])
    assert shell.run("ghe-config --unset app.lab.exported")[0] == 0
    exported["enterprise"]["subdomain_isolation"] = True
    code, _, err = shell.run("ghe-import-settings", stdin=json.dumps(exported))
    assert code == 0, err
    settings = fresh_lab.settings()
    assert settings["app.lab.exported"] == "yes"
    assert settings["core.subdomain-isolation"] == "true"


def _connection_string(lab: LabHandle, **override: str) -> str:
    fields = {
        "BucketName": lab.bucket,
        "AccessKeyId": lab.s3_access_key,
        "SecretAccessKey": lab.s3_secret_key,
        "ServiceUrl": lab.service_url,
        **override,
    }
    return ";".join(f"{k}={v}" for k, v in fields.items())


def test_packages_precheck_passes_with_the_lab_storage(fresh_lab: LabHandle, shell: Shell) -> None:
    code, out, err = shell.run(
        f"ghe-packages-precheck -p MinIO -cs '{_connection_string(fresh_lab)}'"
    )
    assert code == 0, err
    assert out.strip().splitlines()[-1] == "All Storage tests passed"
    assert s3_keys(fresh_lab, ".ghes-storage-test/") == []  # the test object was deleted


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"SecretAccessKey": "wrong"}, "SignatureDoesNotMatch"),
        ({"AccessKeyId": "LABNOSUCHKEY00000000"}, "InvalidAccessKeyId"),
        ({"BucketName": "no-such-bucket"}, "NoSuchBucket"),
        ({"ServiceUrl": "http://127.0.0.1:1"}, "Could not connect"),
    ],
)
def test_packages_precheck_names_what_is_wrong(
    fresh_lab: LabHandle, shell: Shell, override: dict[str, str], expected: str
) -> None:
    code, out, err = shell.run(
        f"ghe-packages-precheck -p S3 -cs '{_connection_string(fresh_lab, **override)}'"
    )
    assert code == 1
    assert expected in err
    assert "All Storage tests passed" not in out


def test_check_blob_connection_tests_the_configured_storage(
    fresh_lab: LabHandle, shell: Shell
) -> None:
    code, _, err = shell.run("ghe-check-blob-connection")
    assert code == 1
    assert "not configured" in err
    for key, value in {
        "secrets.packages.blob-storage-type": "s3",
        "secrets.packages.service-url": fresh_lab.service_url,
        "secrets.packages.s3-bucket": fresh_lab.bucket,
        "secrets.packages.aws-access-key": fresh_lab.s3_access_key,
        "secrets.packages.aws-secret-key": fresh_lab.s3_secret_key,
    }.items():
        assert shell.run(f"ghe-config {key} '{value}'")[0] == 0
    code, out, _ = shell.run("ghe-check-blob-connection")
    assert code == 0
    assert "All Storage tests passed" in out
