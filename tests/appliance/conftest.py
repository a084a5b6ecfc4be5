"""Transports under test: the in-memory fake, SSH to the lab, the Manage API to the lab.

`subject` hands out one of them per parameter, with what it must report (version, hostname),
so that tests/appliance/test_contract.py asserts the same things of all three.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import trustme

from ghes_setup.appliance.fake import FakeAppliance
from ghes_setup.appliance.manage_api import ManageApiTransport
from ghes_setup.appliance.manage_session import ApiOptions, ManageApiSession
from ghes_setup.appliance.ssh import SshTransport
from ghes_setup.appliance.ssh_connection import SshConnection, SshOptions
from ghes_setup.appliance.transport import ApplianceTransport
from ghes_setup.lab.handle import LabHandle
from ghes_setup.net import ResolveOverrides, SystemResolver
from ghes_setup.secrets import Secret

FAKE_VERSION = "3.17.4"
FAKE_HOSTNAME = "ghe.lab.test"


@dataclass
class Subject:
    transport: ApplianceTransport
    version: str
    hostname: str
    lab: LabHandle | None = None


def ssh_transport(lab: LabHandle, **options: object) -> SshTransport:
    base: dict[str, object] = {
        "host": lab.hostname,
        "port": lab.ports.ssh,
        "address": lab.address,
        "identity": lab.identity,
        "known_hosts": lab.known_hosts,
        "use_agent": False,
    }
    base.update(options)
    return SshTransport(SshConnection(SshOptions(**base)))  # type: ignore[arg-type]


def api_transport(lab: LabHandle, password: str | None = None) -> ManageApiTransport:
    resolver = SystemResolver(ResolveOverrides.parse([f"{lab.hostname}:{lab.address}"]))
    options = ApiOptions(host=lab.hostname, port=lab.ports.api, ca_file=lab.ca_file)
    return ManageApiTransport(
        ManageApiSession(options, Secret(password or lab.admin_password, "lab"), resolver=resolver)
    )


@pytest.fixture(
    params=[
        "fake",
        pytest.param("ssh", marks=pytest.mark.lab),
        pytest.param("api", marks=pytest.mark.lab),
    ]
)
def subject(request: pytest.FixtureRequest) -> Iterator[Subject]:
    if request.param == "fake":
        fake = FakeAppliance(version=FAKE_VERSION, hostname=FAKE_HOSTNAME, apply_polls=1)
        fake.store["core.subdomain-isolation"] = "false"
        fake.store["github-ssl.enabled"] = "true"
        yield Subject(fake, FAKE_VERSION, FAKE_HOSTNAME)
        return
    lab: LabHandle = request.getfixturevalue("fresh_lab")
    transport: ApplianceTransport = (
        ssh_transport(lab) if request.param == "ssh" else api_transport(lab)
    )
    with transport:
        yield Subject(transport, lab.ghes_version, lab.hostname, lab)


@pytest.fixture(scope="session")
def pem_pair() -> tuple[str, str]:
    """A multi-line certificate chain (leaf + intermediate) and its RSA key, as PEM text."""
    intermediate = trustme.CA(key_type=trustme.KeyType.RSA).create_child_ca()
    leaf = intermediate.issue_cert(FAKE_HOSTNAME, f"*.{FAKE_HOSTNAME}")
    chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems).decode()
    return chain, leaf.private_key_pem.bytes().decode()
