"""Validate HTTP exchanges against GitHub's official GHES OpenAPI description (vendored).

The descriptions live in `tests/contract/descriptions/ghes-3.NN.json` (the subset ghes-setup
uses, written by `scripts/update-api-descriptions.py`; provenance in `provenance.json`). Nothing
here touches the network.

API for tests:

    from tests.contract.validate import validating_transport, install_validation, Description

    # 1. wrap a transport: every request is checked before it is sent, every response after
    client = httpx.Client(transport=validating_transport("3.19", httpx.HTTPTransport()))

    # 2. or add event hooks to an existing client (works with any transport the client has)
    install_validation(client, "3.19")

    # 3. or check one exchange by hand
    Description.load("3.19").check_exchange(request, response)

A request or response that breaks the description raises `ContractError` (an AssertionError)
naming the version, the method, the path and what broke, e.g.

    GHES 3.19 POST /manage/v1/config/apply: response status 202 is not documented
    (documented: 200, 400, 401)

What is checked, per operation of the description:
- request: the path matches a documented path (`/api/v3` prefix for the REST API; the Manage API's
  paths are absolute: `/manage/v1/...`), the method is documented for it, path and query
  parameters are documented and valid (undocumented query parameters fail), required ones are
  present, a body only where one is documented, its content type listed and a JSON body valid;
- response: the status is listed (or a `default` exists; for the REST API a 404 is always
  accepted, see REST_ALWAYS), and where the description documents content for that status,
  the content type is listed and a JSON body is valid.

`Description.load` takes a feature release ("3.17") or a patch release ("3.17.4").

Schemas are OpenAPI 3.0: `nullable: true` is turned into JSON Schema's `null` type before
validation (draft 4, whose `exclusiveMaximum` is the boolean OpenAPI 3.0 uses). Formats are
annotations here (as in OpenAPI 3.0 itself), except `date-time` and `uuid`, which are checked.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import uuid as uuid_module
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import jsonschema

DESCRIPTIONS = Path(__file__).resolve().parent / "descriptions"
REST_PREFIX = "/api/v3"
# Statuses accepted for every REST (`/api/v3`) operation even where the description omits them:
# GitHub answers 404 for a resource that does not exist or that the token cannot see
# ("Troubleshooting the REST API"), e.g. `GET .../packages/{type}/{name}` documents only 200.
# Not for the Manage API. Listed in docs/fidelity.md.
REST_ALWAYS = frozenset({"404"})

__all__ = [
    "DESCRIPTIONS",
    "ERRATA",
    "ContractError",
    "Description",
    "ValidatingTransport",
    "apply_errata",
    "install_validation",
    "validating_transport",
    "vendored_versions",
]


class ContractError(AssertionError):
    """An exchange that breaks the official description."""


# Where the official description contradicts itself, the example (what GHES sends) wins over
# the schema; each erratum is applied to the schema before any validation (this module and the
# schemathesis runs alike) and listed in docs/fidelity.md.
ERRATA = (
    (
        "/manage/v1/maintenance",
        "get",
        "scheduled_time",
        "the schema says format `date`, the description's own example is a date-time "
        "(2006-01-02T15:04:05+00:00): any string is accepted",
    ),
    (
        "/manage/v1/maintenance",
        "post",
        "when",
        "the schema says format `date-time`, the field's own text says it may be empty or "
        "`now`: any string is accepted",
    ),
)


def apply_errata(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` (a vendored description) with ERRATA applied, in place; returned for chaining."""
    for path, method, field, _why in ERRATA:
        op = doc["paths"].get(path, {}).get(method)
        if op is None:
            continue
        bodies = [op.get("requestBody", {}), *op.get("responses", {}).values()]
        for response in bodies:
            for media in response.get("content", {}).values():
                schema = media.get("schema", {})
                items = schema.get("items", schema)
                prop = items.get("properties", {}).get(field)
                if prop is not None:
                    prop.pop("format", None)
    return doc


def vendored_versions() -> list[str]:
    """The GHES feature releases with a vendored description, oldest first ("3.12", ...)."""
    found = [p.stem.removeprefix("ghes-") for p in DESCRIPTIONS.glob("ghes-3.*.json")]
    return sorted(found, key=lambda v: tuple(int(x) for x in v.split(".")))


def to_json_schema(schema: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema draft 4: `nullable` becomes the `null` type."""
    if isinstance(schema, list):
        return [to_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in {"nullable", "discriminator", "xml", "readOnly", "writeOnly", "deprecated"}:
            continue
        else:
            out[key] = to_json_schema(value)
    if schema.get("nullable") is True:
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            return {"anyOf": [out, {"type": "null"}]}
    return out


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in value or " " in value


def _uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        uuid_module.UUID(value)
    except ValueError:
        return False
    return True


FORMATS = jsonschema.FormatChecker(formats=())
FORMATS.checks("date-time")(_date_time)
FORMATS.checks("uuid")(_uuid)


@dataclass(frozen=True)
class Operation:
    path: str  # the description's templated path, e.g. /user/packages/{package_type}/...
    method: str
    spec: dict[str, Any]
    path_params: dict[str, str]


def _template_regex(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{([a-zA-Z0-9_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{pattern}$")


def _media_type(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def _coerce(raw: str, schema: dict[str, Any]) -> Any:
    """A query or path value (always a string on the wire) as the schema's type, if it parses."""
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
    except ValueError:
        return raw
    if kind == "boolean" and raw in {"true", "false"}:
        return raw == "true"
    return raw


class Description:
    """One GHES version's vendored description, with the checks."""

    def __init__(self, version: str, doc: dict[str, Any]) -> None:
        self.version = version
        self.doc = doc
        # Literal paths win over templated ones (/user/packages/... vs /users/{username}/...).
        self._routes = sorted(
            ((p, _template_regex(p)) for p in doc["paths"]),
            key=lambda item: item[0].count("{"),
        )

    @classmethod
    def load(cls, version: str) -> Description:
        """The description of feature release `version` ("3.17"; a patch release "3.17.4" or
        "enterprise-server@3.17.4" is taken as its feature release)."""
        match = re.search(r"(\d+)\.(\d+)", version)
        return cls._load(f"{match.group(1)}.{match.group(2)}" if match else version)

    @classmethod
    @functools.cache
    def _load(cls, version: str) -> Description:
        path = DESCRIPTIONS / f"ghes-{version}.json"
        if not path.is_file():
            raise ValueError(
                f"no vendored description for GHES {version} "
                f"(have: {', '.join(vendored_versions())})"
            )
        return cls(version, apply_errata(json.loads(path.read_text(encoding="utf-8"))))

    # -- lookup
    def _fail(self, method: str, path: str, what: str) -> ContractError:
        return ContractError(f"GHES {self.version} {method} {path}: {what}")

    def operation(self, method: str, url_path: str) -> Operation:
        method = method.upper()
        if url_path.startswith("/manage/"):
            api_path = url_path
        elif url_path.startswith(REST_PREFIX + "/"):
            api_path = url_path[len(REST_PREFIX) :]
        else:
            raise self._fail(method, url_path, "not under /manage/v1 or /api/v3")
        for template, regex in self._routes:
            match = regex.match(api_path)
            if match is None:
                continue
            ops = self.doc["paths"][template]
            if method.lower() not in ops:
                documented = ", ".join(m.upper() for m in ops if m != "parameters")
                raise self._fail(
                    method, url_path, f"method not documented for {template} ({documented})"
                )
            return Operation(template, method, ops[method.lower()], match.groupdict())
        raise self._fail(method, url_path, "path not in the vendored description subset")

    # -- checks
    def _validate(
        self, method: str, path: str, schema: dict[str, Any], value: Any, what: str
    ) -> None:
        validator = jsonschema.Draft4Validator(to_json_schema(schema), format_checker=FORMATS)
        first = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if first is not None:
            where = "/".join(str(p) for p in first.absolute_path) or "(root)"
            message = first.message
            if first.context:  # oneOf/anyOf: say why each alternative failed, not the whole value
                reasons = dict.fromkeys(
                    f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message[:200]}"
                    for e in first.context
                )
                message = f"matches none of the documented alternatives ({'; '.join(reasons)})"
            raise self._fail(method, path, f"{what} at {where}: {message[:1500]}")

    def check_request(self, request: httpx.Request) -> Operation:
        path = request.url.path
        op = self.operation(request.method, path)
        params = op.spec.get("parameters", [])
        query = parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True)
        seen = {k for k, _ in query}
        declared_query = {p["name"]: p for p in params if p.get("in") == "query"}
        for name, raw in query:
            if name not in declared_query:
                raise self._fail(op.method, path, f"query parameter {name!r} is not documented")
            schema = declared_query[name].get("schema", {})
            self._validate(op.method, path, schema, _coerce(raw, schema), f"query {name!r}")
        for param in params:
            if param.get("in") == "query" and param.get("required") and param["name"] not in seen:
                raise self._fail(op.method, path, f"required query {param['name']!r} missing")
            if param.get("in") == "path" and param["name"] in op.path_params:
                schema = param.get("schema", {})
                raw = op.path_params[param["name"]]
                self._validate(op.method, path, schema, _coerce(raw, schema), f"path {raw!r}")
        body = request.content
        documented = op.spec.get("requestBody")
        if not documented:
            if body:
                raise self._fail(op.method, path, "sends a body, but none is documented")
            return op
        if not body:
            if documented.get("required"):
                raise self._fail(op.method, path, "required request body missing")
            return op
        media = _media_type(request.headers.get("content-type"))
        content = documented.get("content", {})
        if media not in content:
            listed = ", ".join(content) or "none"
            raise self._fail(
                op.method, path, f"request content type {media!r} (documented: {listed})"
            )
        if media == "application/json":
            try:
                value = json.loads(body)
            except ValueError as exc:
                raise self._fail(op.method, path, f"request body is not JSON: {exc}") from None
            schema = content[media].get("schema")
            if schema is not None:
                self._validate(op.method, path, schema, value, "request body")
        return op

    def check_response(self, op: Operation, path: str, response: httpx.Response) -> None:
        responses = op.spec.get("responses", {})
        status = str(response.status_code)
        key = next((k for k in (status, f"{status[0]}XX", "default") if k in responses), None)
        if key is None and status in REST_ALWAYS and not path.startswith("/manage/"):
            return  # GitHub's general "not found" of the REST API (see REST_ALWAYS)
        if key is None:
            listed = ", ".join(sorted(responses))
            raise self._fail(
                op.method,
                path,
                f"response status {status} is not documented (documented: {listed})",
            )
        content = responses[key].get("content")
        if not content:
            return  # nothing documented for the body of this status
        media = _media_type(response.headers.get("content-type"))
        if media not in content:
            listed = ", ".join(content)
            raise self._fail(
                op.method, path, f"response {status} content type {media!r} (documented: {listed})"
            )
        schema = content[media].get("schema")
        if schema is None or not media.endswith("json"):
            return
        try:
            value = json.loads(response.content)
        except ValueError as exc:
            raise self._fail(
                op.method, path, f"response {status} body is not JSON: {exc}"
            ) from None
        self._validate(op.method, path, schema, value, f"response {status} body")

    def check_exchange(self, request: httpx.Request, response: httpx.Response) -> None:
        op = self.check_request(request)
        self.check_response(op, request.url.path, response)


def covered(request: httpx.Request) -> bool:
    """Whether the description speaks about this request's path at all."""
    path = request.url.path
    return path.startswith(("/manage/", REST_PREFIX + "/"))


class ValidatingTransport(httpx.BaseTransport):
    """Checks each request before `inner` sends it and each response before it is returned."""

    def __init__(self, version: str, inner: httpx.BaseTransport) -> None:
        self.description = Description.load(version)
        self.inner = inner
        self.exchanges: list[tuple[str, str, int]] = []  # (method, path, status) checked

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not covered(request):
            return self.inner.handle_request(request)  # e.g. the registry's /v2/: not described
        request.read()
        op = self.description.check_request(request)
        response = self.inner.handle_request(request)
        response.read()
        self.description.check_response(op, request.url.path, response)
        self.exchanges.append((request.method, request.url.path, response.status_code))
        return response

    def close(self) -> None:
        self.inner.close()


def validating_transport(version: str, inner: httpx.BaseTransport) -> ValidatingTransport:
    """`inner` wrapped so that every exchange is checked against GHES `version`'s description.

    Requests outside `/manage/` and `/api/v3/` (the registry's `/v2/`) pass through unchecked.
    """
    return ValidatingTransport(version, inner)


def install_validation(client: httpx.Client, version: str) -> list[tuple[str, str, int]]:
    """Add event hooks to `client` that check every exchange; returns the list of checked ones.

    Only requests to `/manage/...` and `/api/v3/...` are checked (a registry client also talks
    to `/v2/...`, which the description does not cover; those pass through unchecked).
    """
    description = Description.load(version)
    checked: list[tuple[str, str, int]] = []

    def on_request(request: httpx.Request) -> None:
        if covered(request):
            request.read()
            description.check_request(request)

    def on_response(response: httpx.Response) -> None:
        request = response.request
        if not covered(request):
            return
        response.read()
        op = description.operation(request.method, request.url.path)
        description.check_response(op, request.url.path, response)
        checked.append((request.method, request.url.path, response.status_code))

    hooks: dict[str, list[Callable[..., Any]]] = client.event_hooks
    hooks.setdefault("request", []).append(on_request)
    hooks.setdefault("response", []).append(on_response)
    client.event_hooks = hooks
    return checked
