"""`dns records`: the data (records_for, hosts_for) and the rendered text, without sockets."""

from __future__ import annotations

import json

import pytest

from ghes_setup import facts
from ghes_setup.dns.service import hosts_for, records_for
from ghes_setup.errors import InputError
from ghes_setup.facts import GhesVersion
from tests.conftest import CliRunner, assert_no_traceback

HOST = "ghe.example.com"


def lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln and not ln.startswith((";", "#"))]


def test_records_are_apex_and_wildcard_for_each_address_family() -> None:
    recs = records_for(HOST, ["2001:DB8::5", "10.0.0.5"], None, 600)
    assert [r.zone_line() for r in recs] == [
        "ghe.example.com. 600 IN A 10.0.0.5",
        "ghe.example.com. 600 IN AAAA 2001:db8::5",
        "*.ghe.example.com. 600 IN A 10.0.0.5",
        "*.ghe.example.com. 600 IN AAAA 2001:db8::5",
    ]


def test_all_subdomains_lists_each_versioned_name_instead_of_the_wildcard() -> None:
    recs = records_for(HOST, ["10.0.0.5"], GhesVersion.parse("3.4"), all_subdomains=True)
    names = [r.name for r in recs]
    assert names[0] == HOST
    assert f"*.{HOST}" not in names
    assert names[1:] == list(facts.isolation_hosts(HOST, GhesVersion.parse("3.4")))
    assert f"containers.{HOST}" not in names


@pytest.mark.parametrize("bad", ["10.0.0", "ghe.example.com", "10.0.0.5/24", ""])
def test_bad_address_is_input_error(bad: str) -> None:
    with pytest.raises(InputError, match="--address"):
        records_for(HOST, [bad])


def test_ttl_must_be_positive() -> None:
    with pytest.raises(InputError, match="--ttl"):
        records_for(HOST, ["10.0.0.5"], ttl=0)


def test_hosts_entries_list_every_name_per_address() -> None:
    entries = hosts_for(HOST, ["10.0.0.5", "::1"], GhesVersion.parse("3.7"))
    assert [e.address for e in entries] == ["10.0.0.5", "::1"]
    assert entries[0].names[0] == HOST
    assert f"notebooks.{HOST}" in entries[0].names
    assert f"render.{HOST}" not in entries[0].names


# ------------------------------------------------------------------ through the CLI


def test_cli_prints_bind_lines_by_default(cli: CliRunner) -> None:
    result = cli("dns", "records", HOST, "--address", "10.0.0.5", "--address", "2001:db8::5")
    assert result.exit_code == 0, result
    assert lines(result.stdout) == [
        "ghe.example.com. 300 IN A 10.0.0.5",
        "ghe.example.com. 300 IN AAAA 2001:db8::5",
        "*.ghe.example.com. 300 IN A 10.0.0.5",
        "*.ghe.example.com. 300 IN AAAA 2001:db8::5",
    ]
    assert "wildcard" in result.stdout  # the comment says why


def test_cli_all_subdomains_and_ttl(cli: CliRunner) -> None:
    result = cli(
        "dns", "records", HOST, "--address", "10.0.0.5", "--all-subdomains",
        "--ttl", "60", "--ghes-version", "3.6",
    )  # fmt: skip
    assert result.exit_code == 0, result
    body = lines(result.stdout)
    assert "render.ghe.example.com. 60 IN A 10.0.0.5" in body
    assert "notebooks.ghe.example.com. 60 IN A 10.0.0.5" not in body
    assert len(body) == 1 + len(facts.isolation_subdomains(GhesVersion.parse("3.6")))


def test_cli_hosts_style_is_one_line_per_address_with_every_name(cli: CliRunner) -> None:
    result = cli("dns", "records", HOST, "--address", "10.0.0.5", "--style", "hosts")
    assert result.exit_code == 0, result
    (line,) = lines(result.stdout)
    fields = line.split()
    assert fields[0] == "10.0.0.5"
    assert fields[1:] == [HOST, *facts.isolation_hosts(HOST, None)]
    assert "*" not in line


def test_cli_records_as_json(cli: CliRunner) -> None:
    result = cli("--format", "json", "dns", "records", HOST, "--address", "10.0.0.5")
    assert result.exit_code == 0, result
    doc = json.loads(result.stdout)
    assert doc["records"][1] == {"name": f"*.{HOST}", "type": "A", "value": "10.0.0.5", "ttl": 300}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--address", "10.0.0.999"), "--address '10.0.0.999' is not an IPv4 or IPv6 address"),
        (("--address", "10.0.0.5", "--ghes-version", "three"), "--ghes-version"),
        (("--address", "10.0.0.5", "--ttl", "0"), "--ttl 0"),
    ],
)
def test_cli_bad_input_exits_3_with_one_line(
    cli: CliRunner, args: tuple[str, ...], message: str
) -> None:
    result = cli("dns", "records", HOST, *args)
    assert result.exit_code == 3, result
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert_no_traceback(result)


@pytest.mark.parametrize("host", ["10.0.0.5", "localhost", "bad_name.example.com", "single"])
def test_cli_bad_hostname_exits_3(cli: CliRunner, host: str) -> None:
    for command in ("records", "check"):
        args = ("--address", "10.0.0.5") if command == "records" else ()
        result = cli("dns", command, host, *args)
        assert result.exit_code == 3, result
        assert "HOSTNAME" in result.stderr
        assert_no_traceback(result)


def test_cli_records_needs_an_address(cli: CliRunner) -> None:
    result = cli("dns", "records", HOST)
    assert result.exit_code == 2, result  # Typer's own usage error
    assert "--address" in result.output


def test_cli_check_without_hostname_or_site_exits_3(cli: CliRunner) -> None:
    result = cli("dns", "check")
    assert result.exit_code == 3, result
    assert "no HOSTNAME given" in result.stderr


def test_cli_check_bad_nameserver_and_expect_exit_3(cli: CliRunner) -> None:
    result = cli("dns", "check", HOST, "--nameserver", "dns.example.com")
    assert result.exit_code == 3, result
    assert "is not an IP address" in result.stderr
    result = cli("dns", "check", HOST, "--nameserver", "127.0.0.1:1", "--expect", "nope")
    assert result.exit_code == 3, result
    assert "--expect 'nope'" in result.stderr


@pytest.mark.parametrize("command", ["check", "records"])
def test_help_has_an_example(cli: CliRunner, command: str) -> None:
    result = cli("dns", command, "--help")
    assert result.exit_code == 0
    assert f"Example: ghes-setup dns {command} ghe.example.com" in result.stdout


def test_cli_records_refuses_a_report_format_before_building_records(cli: CliRunner) -> None:
    """`dns records` prints records, not a check report: prometheus is a usage error (exit 2),
    named before the bad address would be (common.print_plain checks --format first)."""
    result = cli("dns", "records", HOST, "--address", "10.0.0.999", "--format", "prometheus")
    assert result.exit_code == 2, result
    assert "this command supports human, json" in result.stderr
    assert "10.0.0.999" not in result.output
    assert_no_traceback(result)
