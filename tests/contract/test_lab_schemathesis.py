"""schemathesis, an independent tester, holds the lab to GitHub's official GHES description.

For the oldest and the newest vendored GHES release, a dedicated lab runs as that release
(`lab up --ghes-version 3.NN.0`, fixture `lab_as`) and schemathesis generates requests for every
operation of the vendored subset (tests/contract/descriptions/ghes-3.NN.json):

- the Manage API: every `/manage/v1/*` operation, on the lab's API port, Basic `api_key:PASSWORD`;
- the REST API: `/user` and the package(-version) endpoints under `/api/v3`, with the lab's
  write PAT (read, write and delete:packages).

Checks: the status code is one the operation documents, the content type is one documented for
that status, the body matches the documented schema, and no 5xx at all (the lab never means
one). Generation is bounded (MAX_EXAMPLES per operation, positive data only: schemathesis'
negative mode sends bodies the description forbids, whose answers the description does not
document either, e.g. an invalid `uuid` query on `GET config/nodes` has no documented 400).
No documented operation is excluded. The newest release's lab presents a Cluster (three nodes
in every answer), the oldest's a SingleNode. The labs are dedicated to this test (schemathesis
POSTs
config/apply and maintenance, PUTs settings with generated values) and are stopped at the end of
the session. Wrong auth is not generated: these runs always authenticate.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from requests.adapters import HTTPAdapter
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ghes_setup.lab.handle import LabHandle
from tests.contract.validate import DESCRIPTIONS, apply_errata, vendored_versions

pytestmark = pytest.mark.lab

OLDEST, NEWEST = vendored_versions()[0], vendored_versions()[-1]
MAX_EXAMPLES = 8
CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    not_a_server_error,
]


def rest_status_code_conformance(ctx: Any, response: Any, case: schemathesis.Case) -> bool | None:
    """status_code_conformance, except that 404 is accepted where the description omits it.

    `GET .../packages/{type}/{name}` and `.../versions/{id}` document only 200, yet GitHub
    answers 404 for a package or version that does not exist or that the token cannot see
    ("Troubleshooting the REST API", docs.github.com/rest/using-the-rest-api/troubleshooting-
    the-rest-api: 404 for a resource that is missing or not accessible). Generated names are
    random, so nearly every answer is that 404. Listed in docs/fidelity.md.
    """
    if response.status_code == 404:
        return None
    return status_code_conformance(ctx, response, case)


REST_CHECKS = [
    rest_status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    not_a_server_error,
]
SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    suppress_health_check=list(hypothesis.HealthCheck),
)


def _part(version: str, manage: bool) -> schemathesis.schemas.BaseSchema:
    """The Manage API half or the REST half of the vendored description, as its own schema (the
    two live on different ports, and the Manage API's paths are absolute, not under /api/v3)."""
    doc = json.loads((DESCRIPTIONS / f"ghes-{version}.json").read_text(encoding="utf-8"))
    apply_errata(doc)
    paths: dict[str, Any] = {}
    for path, ops in doc["paths"].items():
        if path.startswith("/manage/") != manage:
            continue
        ops = copy.deepcopy(ops)
        for op in ops.values():
            if isinstance(op, dict):
                op.pop("servers", None)
        paths[path] = ops
    doc["paths"] = paths
    doc["servers"] = [{"url": "/" if manage else "/api/v3"}]
    schema = schemathesis.openapi.from_dict(doc)
    schema.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE])
    return schema


class LabAdapter(HTTPAdapter):
    """Connect to the lab's address; TLS checks the lab hostname against the lab CA."""

    def __init__(self, lab: LabHandle) -> None:
        self.lab = lab
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["server_hostname"] = self.lab.hostname
        kwargs["assert_hostname"] = self.lab.hostname
        super().init_poolmanager(*args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        assert request.url is not None
        request.url = request.url.replace(f"//{self.lab.hostname}:", f"//{self.lab.address}:", 1)
        request.headers["Host"] = self.lab.hostname
        return super().send(request, **kwargs)


def session_for(lab: LabHandle) -> requests.Session:
    session = requests.Session()
    session.mount("https://", LabAdapter(lab))
    session.verify = str(lab.ca_file)
    return session


def run_manage(case: schemathesis.Case, lab: LabHandle, topology: str = "SingleNode") -> None:
    if lab.topology().name != topology:
        lab.set_topology(topology)
    basic = base64.b64encode(f"api_key:{lab.admin_password}".encode()).decode()
    with session_for(lab) as session:
        case.call_and_validate(
            base_url=f"https://{lab.hostname}:{lab.ports.api}",
            session=session,
            headers={"Authorization": f"Basic {basic}"},
            checks=CHECKS,
            timeout=30,
            verify=str(lab.ca_file),
        )
    lab.wait_apply_idle(30)  # a generated config/apply must not overlap the next example's


def run_rest(case: schemathesis.Case, lab: LabHandle) -> None:
    # The Manage API run may have left maintenance on: web and API answer 503 then (documented
    # by the maintenance-mode page, not by these operations).
    if lab.maintenance_on():
        lab.set_maintenance(False)
    with session_for(lab) as session:
        case.call_and_validate(
            base_url=f"https://{lab.hostname}:{lab.ports.https}/api/v3",
            session=session,
            headers={"Authorization": f"token {lab.write_token}"},
            checks=REST_CHECKS,
            timeout=30,
            verify=str(lab.ca_file),
        )


manage_oldest = _part(OLDEST, manage=True)
manage_newest = _part(NEWEST, manage=True)
rest_oldest = _part(OLDEST, manage=False)
rest_newest = _part(NEWEST, manage=False)


@manage_oldest.parametrize()
@SETTINGS
def test_manage_api_conforms_oldest(case: schemathesis.Case, lab_as: Any) -> None:
    run_manage(case, lab_as(OLDEST))


@manage_newest.parametrize()
@SETTINGS
def test_manage_api_conforms_newest(case: schemathesis.Case, lab_as: Any) -> None:
    run_manage(case, lab_as(NEWEST), topology="Cluster")  # every answer with 3 nodes


@rest_oldest.parametrize()
@SETTINGS
def test_rest_api_conforms_oldest(case: schemathesis.Case, lab_as: Any) -> None:
    run_rest(case, lab_as(OLDEST))


@rest_newest.parametrize()
@SETTINGS
def test_rest_api_conforms_newest(case: schemathesis.Case, lab_as: Any) -> None:
    run_rest(case, lab_as(NEWEST))
