"""Every file the tool writes: exact mode whatever the umask, atomic, never through a symlink,
and a full disk is one line and exit 74 (ghes_setup/files.py, docs/security.md)."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ghes_setup.errors import InputError, MaterialError, OutputError
from ghes_setup.files import private_dir, read_document, write_file
from tests.conftest import CliRunner, assert_no_traceback


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture(params=[0o000, 0o022, 0o277], ids=["umask000", "umask022", "umask277"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def test_file_is_0600_and_folder_0700_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    target = tmp_path / "deep" / "state" / "f.json"
    write_file(target, "{}", make_dirs=True)
    assert _mode(target) == 0o600
    assert _mode(target.parent) == 0o700
    assert target.read_text() == "{}"


def test_loose_folder_is_tightened_to_0700(tmp_path: Path) -> None:
    folder = tmp_path / "snaps"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    private_dir(folder)
    assert _mode(folder) == 0o700


def test_symlinked_target_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    link = tmp_path / "report.md"
    link.symlink_to(victim)
    with pytest.raises(InputError, match="symbolic link"):
        write_file(link, "overwritten", what="--report")
    assert victim.read_text() == "precious"


def test_symlinked_folder_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "snapdir"
    link.symlink_to(real)
    with pytest.raises(InputError, match="symbolic link"):
        private_dir(link)


def test_replacement_is_atomic_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "t.prom"
    target.write_text("old")
    inode = target.stat().st_ino
    write_file(target, "new", mode=0o644)
    assert target.read_text() == "new" and _mode(target) == 0o644
    assert target.stat().st_ino != inode  # a new file renamed over, not rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.prom"]


def test_no_overwrite_refuses_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "key.pem"
    target.write_text("old")
    with pytest.raises(InputError, match="refusing to overwrite"):
        write_file(target, "new", overwrite=False)
    assert target.read_text() == "old"


def test_missing_folder_is_an_input_error_before_writing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        write_file(tmp_path / "nope" / "f", "x")


# ------------------------------------------------------------------ call sites


def test_report_textfile_snapshot_and_keys_go_through_the_safe_writer(
    tmp_path: Path, umask: int
) -> None:
    from ghes_setup.appliance import checkpoint
    from ghes_setup.reporting.prometheus import write_textfile
    from ghes_setup.runbooks.upgrade import write_snapshot
    from ghes_setup.tls.issue import write_atomic

    write_textfile(tmp_path / "ghes.prom", "x 1\n")
    assert _mode(tmp_path / "ghes.prom") == 0o644  # node_exporter reads it as its own user
    write_snapshot({"a": 1}, tmp_path / "before.json")
    assert _mode(tmp_path / "before.json") == 0o600
    write_atomic(tmp_path / "k.pem", b"KEY", mode=0o600, overwrite=False)
    assert _mode(tmp_path / "k.pem") == 0o600
    snap = checkpoint.save(
        {"hostname": "ghe.example.com"},
        host="ghe.example.com",
        via="fake",
        directory=tmp_path / "snaps",
        now=datetime(2026, 1, 2, tzinfo=UTC),
    )
    assert snap.path is not None and _mode(snap.path) == 0o600
    assert _mode(tmp_path / "snaps") == 0o700
    assert json.loads(snap.path.read_text())["host"] == "ghe.example.com"


@pytest.mark.parametrize("kind", ["textfile", "snapshot", "key"])
def test_call_sites_refuse_a_symlinked_target(tmp_path: Path, kind: str) -> None:
    from ghes_setup.reporting.prometheus import write_textfile
    from ghes_setup.runbooks.upgrade import write_snapshot
    from ghes_setup.tls.issue import write_atomic

    victim = tmp_path / "victim"
    victim.write_text("precious")
    link = tmp_path / "out"
    link.symlink_to(victim)
    writers = {
        "textfile": lambda: write_textfile(link, "x 1\n"),
        "snapshot": lambda: write_snapshot({"a": 1}, link, force=True),
        "key": lambda: write_atomic(link, b"KEY", mode=0o600, overwrite=True),
    }
    with pytest.raises(InputError, match="symbolic link"):
        writers[kind]()
    assert victim.read_text() == "precious"


# ------------------------------------------------------------------ a full disk


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs, filled up: every write to it fails with ENOSPC (tests run as root)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(mount)], check=True
    )
    try:
        with (mount / "filler").open("wb", buffering=0) as fh:
            failure = None
            while failure is None:
                try:
                    fh.write(b"\0" * 4096)
                except OSError as exc:
                    failure = exc.errno
        assert failure == errno.ENOSPC
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_full_disk_is_an_output_error_naming_the_file(full_disk: Path) -> None:
    target = full_disk / "report.md"
    with pytest.raises(OutputError) as info:
        write_file(target, "x" * 100_000, what="--report")
    assert "No space left" in info.value.message and str(target) in info.value.message
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler"]  # no temp file left


def test_full_disk_in_the_cli_is_one_line_and_exit_74(cli: CliRunner, full_disk: Path) -> None:
    result = cli("tls", "ca", "create", "--out", str(full_disk), "--name", "Corp CA")
    assert result.exit_code == 74, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0], result
    assert_no_traceback(result)


def test_full_disk_for_the_prometheus_textfile_is_exit_74(
    cli: CliRunner, full_disk: Path, tmp_path: Path
) -> None:
    from ghes_setup.reporting.prometheus import write_textfile

    with pytest.raises(OutputError):
        write_textfile(full_disk / "ghes.prom", "x 1\n" * 10_000)


def test_full_disk_for_the_cli_textfile_is_one_line_and_74(
    cli: CliRunner, full_disk: Path, tmp_path: Path
) -> None:
    ca, out = tmp_path / "ca", tmp_path / "out"
    assert cli("tls", "ca", "create", "--out", str(ca), "--name", "Test CA").exit_code == 0
    assert cli("tls", "issue", "ghe.example.com", "--ca", str(ca), "--out", str(out)).exit_code == 0
    result = cli(
        "tls",
        "check",
        "--cert",
        str(out / "ghe.example.com-chain.pem"),
        "--key",
        str(out / "ghe.example.com.key"),
        "--ca-file",
        str(ca / "ca.pem"),
        "--hostname",
        "ghe.example.com",
        "--format",
        "prometheus",
        "--textfile",
        str(full_disk / "ghes.prom"),
    )
    assert result.exit_code == 74, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0], result
    assert_no_traceback(result)


def test_tls_out_folder_created_for_keys_is_0700(cli: CliRunner, tmp_path: Path) -> None:
    result = cli("tls", "ca", "create", "--out", str(tmp_path / "new" / "ca"), "--name", "CA")
    assert result.exit_code == 0, result
    assert _mode(tmp_path / "new" / "ca") == 0o700
    assert _mode(tmp_path / "new" / "ca" / "ca.key") == 0o600


# --- reading back what the tool wrote


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "capture {path} does not exist"),
        (b"{not json", "capture {path} is not JSON"),
        (b'\xff\xfe{"kind": "k"}', "capture {path} is not JSON"),  # not UTF-8
        (b"[1, 2]", "{path} is not a ghes-setup capture"),
        (b'{"kind": "other", "schema_version": 1}', "{path} is not a ghes-setup capture"),
        (b'{"kind": "k", "schema_version": 2}', "capture {path}: schema_version 2, expected 1"),
        (b'{"kind": "k"}', "capture {path}: schema_version None, expected 1"),
    ],
)
def test_a_document_that_is_not_what_the_tool_wrote_is_one_named_error(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "doc.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(MaterialError) as info:
        read_document(path, what="capture", kind="k", schema_version=1, hint="make one")
    assert info.value.message == message.format(path=path)
    assert isinstance(info.value, InputError)  # exit 3


def test_a_document_that_cannot_be_read_says_why(tmp_path: Path) -> None:
    with pytest.raises(MaterialError, match=r"cannot read snapshot .*: Is a directory"):
        read_document(tmp_path, what="snapshot", schema_version=1)


def test_a_document_the_tool_wrote_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps({"kind": "k", "schema_version": 1, "x": [1]}), encoding="utf-8")
    assert read_document(path, what="capture", kind="k", schema_version=1)["x"] == [1]
    # No kind asked: any object with the schema version.
    path.write_text(json.dumps({"schema_version": 1}), encoding="utf-8")
    assert read_document(path, what="snapshot", schema_version=1) == {"schema_version": 1}
