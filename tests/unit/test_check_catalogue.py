"""The check catalogue (ghes_setup/checks/catalogue.py) is the one table of checks: every id
has its row, its page, its place in the schema's enumeration and in `explain --help`; every
row resolves to the check object it names and agrees with it; no check module is missing from
the table; and every pipeline and area command runs the table's checks, in the table's order.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import json
import pkgutil
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ghes_setup.checks import FunctionCheck
from ghes_setup.checks.catalogue import (
    CATALOGUE,
    CheckId,
    Pipeline,
    Row,
    checks,
    load,
    resolve,
    rows,
)
from tests.conftest import CliRunner

ROOT = Path(__file__).resolve().parents[2]
AREAS = ("dns", "tls", "appliance", "packages", "registry", "client")
ALL_IDS = {str(i) for i in CheckId}


def _check_modules() -> dict[str, ModuleType]:
    """Every `<area>/check_*.py` module, imported, by dotted name."""
    found = {}
    for area in AREAS:
        package = importlib.import_module(f"ghes_setup.{area}")
        for info in pkgutil.iter_modules(package.__path__):
            if info.name.startswith("check_"):
                name = f"ghes_setup.{area}.{info.name}"
                found[name] = importlib.import_module(name)
    return found


def test_every_id_has_a_row_and_every_row_an_id() -> None:
    assert {str(r.id) for r in CATALOGUE} == ALL_IDS
    assert len(ALL_IDS) >= 31


def test_every_id_has_its_page() -> None:
    pages = {p.stem for p in (ROOT / "docs" / "checks").glob("*.md")}
    missing = sorted(ALL_IDS - pages)
    assert not missing, f"check ids without docs/checks/<id>.md: {missing}"


def _generator() -> ModuleType:
    path = ROOT / "scripts" / "gen-check-ids.py"
    spec = importlib.util.spec_from_file_location("gen_check_ids", path)
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    return generator


def test_the_schema_enumerates_every_id_and_is_regenerated() -> None:
    generator = _generator()
    current = generator.TARGET.read_text(encoding="utf-8")
    assert current == generator.render(current), "run scripts/gen-check-ids.py"
    schema = json.loads(current)
    assert sorted(schema["$defs"]["check_id"]["enum"]) == sorted(ALL_IDS)


def test_the_index_links_every_ids_page_and_is_regenerated() -> None:
    generator = _generator()
    current = generator.INDEX.read_text(encoding="utf-8")
    assert current == generator.render_index(current), "run scripts/gen-check-ids.py"
    linked = set(re.findall(r"\]\(checks/([a-z0-9-]+)\.md\)", current))
    assert linked == ALL_IDS


def test_explain_help_lists_every_id(cli: CliRunner) -> None:
    result = cli("explain", "--help")
    assert result.exit_code == 0, result.stderr
    words = set(re.findall(r"[a-z][a-z0-9-]+", result.stdout))
    missing = sorted(ALL_IDS - words)
    assert not missing, f"ids missing from `ghes-setup explain --help`: {missing}"


def test_explain_list_prints_the_catalogues_ids(cli: CliRunner) -> None:
    result = cli("explain", "--list")
    assert result.stdout.splitlines() == sorted(ALL_IDS)


@pytest.mark.parametrize("row", CATALOGUE, ids=lambda r: f"{r.id}@{r.module}")
def test_each_row_resolves_to_its_check_and_agrees_with_it(row: Row) -> None:
    check = load(row)
    assert isinstance(check, FunctionCheck)
    assert (check.id, check.area) == (row.id, row.area)
    assert row.module.rsplit(".", 1)[1].startswith("check_"), "a check lives in check_*.py"
    # The context the row names is the type the check function takes.
    context = resolve(row.context)
    assert inspect.isclass(context)
    parameter = next(iter(inspect.signature(check.evaluate).parameters.values()))
    assert parameter.annotation in (context.__name__, context), (parameter.annotation, context)
    # ... and the PipelineContext accessor builds that type.
    if row.via is not None:
        from ghes_setup.runbooks.context import PipelineContext

        accessor = getattr(PipelineContext, row.via)
        returns = inspect.signature(accessor).return_annotation
        assert returns in (context.__name__, context), (row.via, returns)
    for required in (*check.requires, *row.also_requires):
        assert required in ALL_IDS, f"{row.id} requires an unknown id {required}"


def test_no_check_module_and_no_check_object_is_missing_from_the_table() -> None:
    in_table = {id(load(r)) for r in CATALOGUE}
    modules_in_table = {r.module for r in CATALOGUE}
    for name, module in _check_modules().items():
        objects = [v for v in vars(module).values() if isinstance(v, FunctionCheck)]
        own = [c for c in objects if c.evaluate.__module__ == name]
        assert own, f"{name} defines no @check function"
        assert name in modules_in_table, f"{name} has no row in checks/catalogue.py"
        for chk in own:
            assert id(chk) in in_table, f"{name}: {chk.id} has no row in checks/catalogue.py"


def test_a_row_order_puts_every_check_after_what_it_requires() -> None:
    for pipeline in Pipeline:
        seen: set[str] = set()
        selected = {str(r.id) for r in rows(pipeline)}
        for row in rows(pipeline):
            chk = load(row)
            for required in (*chk.requires, *row.also_requires):
                if required in selected:
                    assert required in seen, f"{pipeline}: {row.id} before {required}"
            seen.add(str(row.id))


def _ids(table: Any) -> list[str]:
    return [c.id for c in table]


def test_the_area_commands_run_the_tables_checks() -> None:
    from ghes_setup.appliance import status as appliance_status
    from ghes_setup.client import service as client_service
    from ghes_setup.dns import service as dns_service
    from ghes_setup.packages import status as packages_status
    from ghes_setup.tls import service as tls_service

    cases = [
        (dns_service.CHECKS, Pipeline.DNS_CHECK),
        (tls_service.MATERIAL_CHECKS, Pipeline.TLS_CHECK),
        (tls_service.PROBE_CHECKS, Pipeline.TLS_PROBE),
        (appliance_status.CHECKS, Pipeline.APPLIANCE_CHECK),
        (client_service.CHECKS, Pipeline.CLIENT_CHECK),
        (client_service.SMOKE, Pipeline.CLIENT_SMOKE),
    ]
    for table, pipeline in cases:
        assert tuple(table) == checks(pipeline), pipeline
    # `packages status`: its own checks, then the appliance's pending state (another context).
    packages = Pipeline.PACKAGES_STATUS
    assert checks(packages, area="packages") == packages_status.CHECKS
    assert checks(packages, area="appliance") == packages_status.PENDING
    assert {*packages_status.CHECKS, *packages_status.PENDING} == set(checks(packages))
    # The report orders users and tests know, unchanged by the catalogue.
    assert _ids(dns_service.CHECKS)[:4] == [
        "dns-hostname", "dns-wildcard", "dns-subdomains", "dns-consistency",
    ]  # fmt: skip
    assert _ids(packages_status.CHECKS + packages_status.PENDING) == [
        "packages-storage-config", "packages-enabled", "packages-storage", "appliance-pending",
    ]  # fmt: skip


def test_the_check_pipeline_runs_the_tables_checks_through_the_pipeline_context() -> None:
    from ghes_setup.runbooks import check

    table = check.check_table()
    assert [c.inner for c in table] == list(checks(Pipeline.CHECK))
    with_smoke = check.check_table(smoke=True)
    assert [c.inner for c in with_smoke[len(table) :]] == list(checks(Pipeline.CHECK_SMOKE))
    by_id = {c.id: c for c in table}
    assert by_id["packages-enabled"].requires == ("appliance-reachable",)
    ids = _ids(table)  # the DNS checks first, then what the appliance serves
    after_dns = ids[len(rows(Pipeline.CHECK, area="dns")) :]
    assert after_dns[:3] == ["tls-served", "status-endpoint", "appliance-reachable"]


def _check_ids_named_in(path: Path) -> set[str]:
    """The `CheckId.X` members a module names (the results it makes itself)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        str(CheckId[node.attr])
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "CheckId"
    }


@pytest.mark.parametrize(
    ("module", "pipeline"),
    [("runbooks/up.py", Pipeline.UP), ("runbooks/upgrade.py", Pipeline.VERIFY)],
)
def test_the_results_up_and_verify_make_themselves_are_rows_of_theirs(
    module: str, pipeline: Pipeline
) -> None:
    named = _check_ids_named_in(ROOT / "ghes_setup" / module)
    assert named, module
    theirs = {str(r.id) for r in rows(pipeline)}
    assert named <= theirs, f"{module} reports {sorted(named - theirs)} not in its rows"


def test_no_module_wires_a_check_object_by_hand() -> None:
    """A pipeline or an area command takes its checks from the table: nothing outside the
    check modules imports a `@check` object (helpers of a check module, e.g. `judge`, are
    fine)."""
    modules = _check_modules()
    offenders = []
    for path in (ROOT / "ghes_setup").rglob("*.py"):
        relative = path.relative_to(ROOT / "ghes_setup")
        if "lab" in relative.parts or path.name.startswith("check_"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module in modules:
                for alias in node.names:
                    value = getattr(modules[node.module], alias.name, None)
                    if isinstance(value, FunctionCheck):
                        offenders.append(f"{relative}: {alias.name} ({value.id})")
    assert not offenders, offenders
