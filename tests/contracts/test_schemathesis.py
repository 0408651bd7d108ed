"""Schemathesis against every service's OpenAPI, served on real HTTP: no input gives a 5xx.

Each service runs as its own process (`python -m services.<name>`, as `make run` starts it) on
SQLite, and the registry also on PostgreSQL (where U+0000 in a string used to be a 500). The
region 140212 has data (organisations, a committee, a branch, which coverage and training learn
over NATS), the token covers it, and path parameters are the ids of that data in the positive
cases (valid by the schema), so they reach the code behind the 404s, and
generated in the negative ones (not valid). Each operation gets a bounded, derandomised budget.

Only `not_a_server_error` is checked. Schemathesis' status-code conformance fails today on most
operations because 401, 403, 404, 409 and 412 are answered but not documented in the OpenAPI
(issue 13 documents them); it is left out rather than weakened per operation.

Random strings rarely hold U+0000, so a second test puts it into every string of one valid case
per registry operation on PostgreSQL, where it used to be a 500 (`invalid byte sequence for
encoding "UTF8": 0x00`, issue 12 defect 4) and is now a 422 at the HTTP boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err

from tools.chaos.cluster import Cluster

COUNTY = "140212"
TOWNSHIP = "140212101"
#: Generated cases per operation and mode (positive, negative): about 550 requests in all,
#: which hypothesis takes most of the time to generate; more with PB_SCHEMATHESIS_EXAMPLES=50.
EXAMPLES = int(os.environ.get("PB_SCHEMATHESIS_EXAMPLES", "2"))
#: Services served and fuzzed on each store: all of them on SQLite, the registry on PostgreSQL.
SERVICES = {
    "sqlite": ("registry", "coverage", "stations", "training"),
    "postgresql": ("registry",),
}


@dataclass(frozen=True)
class ServerError:
    service: str
    operation: str
    mode: str
    status: int
    request: str
    body: str

    def __str__(self) -> str:
        return (
            f"{self.service} {self.operation} ({self.mode}): {self.status}\n"
            f"    {self.request}\n    -> {self.body}"
        )


async def _seed(cluster: Cluster) -> dict[str, str]:
    """Data in the county, and the ids generated requests may name."""
    registry = cluster.services["registry"].url
    headers = cluster.headers(COUNTY)
    client = cluster.http
    organization = await client.post(
        f"{registry}/v1/organizations",
        headers=headers,
        json={
            "credit_code": "91140212MA0L1B2C3G",
            "name": "大同某某物流有限公司",
            "kind": "enterprise",
            "region_code": TOWNSHIP,
            "staff_count": 30,
            "full_members": 3,
        },
    )
    assert organization.status_code == 201, organization.text
    committee = await client.post(
        f"{registry}/v1/committees",
        headers=headers,
        json={"kind": "two_new", "name": "新荣区两新工委", "region_code": COUNTY},
    )
    assert committee.status_code == 201, committee.text
    branch = await client.post(
        f"{registry}/v1/branches",
        headers=headers,
        json={
            "kind": "standalone",
            "name": "某某物流党支部",
            "parent_id": committee.json()["id"],
            "organization_ids": [organization.json()["id"]],
        },
    )
    assert branch.status_code == 201, branch.text
    known = {
        "region_code": COUNTY,
        "organization_id": organization.json()["id"],
        "committee_id": committee.json()["id"],
        "branch_id": branch.json()["id"],
    }
    # Coverage and training have learnt them over NATS before the fuzzing starts.
    coverage = cluster.services["coverage"].url if "coverage" in cluster.services else None
    deadline = time.monotonic() + 30
    while coverage is not None and time.monotonic() < deadline:
        learnt = await client.get(
            f"{coverage}/v1/projection/organizations/{known['organization_id']}", headers=headers
        )
        if learnt.status_code == 200:
            break
        await asyncio.sleep(0.2)
    return known


def _fuzz(
    service: str, url: str, headers: dict[str, str], known: dict[str, str]
) -> tuple[int, list[ServerError]]:
    """Every operation of one service: EXAMPLES positive and negative cases; the 5xx found."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    found: list[ServerError] = []
    sent = 0
    session = requests.Session()
    session.trust_env = False
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the service's own OpenAPI does not load: a failure in itself
        operation = result.ok()
        names = {p.name for p in operation.path_parameters}
        ids = {name: value for name, value in known.items() if name in names}
        fixed: dict[str, Any] = {"path_parameters": ids} if ids else {}
        strategies = [
            (GenerationMode.POSITIVE, operation.as_strategy(GenerationMode.POSITIVE, **fixed)),
            (GenerationMode.NEGATIVE, operation.as_strategy(GenerationMode.NEGATIVE)),
        ]
        for mode, strategy in strategies:
            with contextlib.suppress(Unsatisfiable):  # no invalid input (e.g. GET /healthz)
                sent += _run(strategy, mode, service, url, headers, session, found)
    session.close()
    return sent, found


def _run(
    strategy: Any,
    mode: GenerationMode,
    service: str,
    url: str,
    headers: dict[str, str],
    session: requests.Session,
    found: list[ServerError],
) -> int:
    """Up to EXAMPLES cases of one strategy sent; each 5xx noted in `found`; how many sent."""
    sent = 0

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        nonlocal sent
        response = case.call(base_url=url, headers=headers, session=session, timeout=30)
        sent += 1
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except (AssertionError, BaseExceptionGroup):
            found.append(
                ServerError(
                    service,
                    case.operation.label,
                    mode.value,
                    response.status_code,
                    case.as_curl_command(headers={})[:600],
                    response.text[:400],
                )
            )

    run()
    return sent


def _with_nul(value: Any) -> Any:
    """Every string in a body or query, with U+0000 in the middle of it."""
    if isinstance(value, str):
        return value[:1] + "\x00" + value[1:]
    if isinstance(value, dict):
        return {key: _with_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_nul(item) for item in value]
    return value


def _first_case(strategy: Any) -> Any:
    """The first case hypothesis draws from `strategy` (derandomised), or None."""
    cases: list[Any] = []

    @settings(max_examples=1, database=None, derandomize=True, phases=[Phase.generate])
    @given(case=strategy)
    def first(case: Any) -> None:
        cases.append(case)

    with contextlib.suppress(Unsatisfiable):
        first()
    return cases[0] if cases else None


def _nul_probe(
    service: str, url: str, headers: dict[str, str], known: dict[str, str]
) -> tuple[int, list[ServerError]]:
    """Per operation, one valid case (schemathesis' first positive example, derandomised) with
    U+0000 put into each of its strings, body and query: a 422 is the answer, never a 5xx."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    found: list[ServerError] = []
    sent = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        names = {p.name for p in operation.path_parameters}
        ids = {name: value for name, value in known.items() if name in names}
        case = _first_case(
            operation.as_strategy(GenerationMode.POSITIVE, path_parameters=ids or None)
        )
        body = getattr(case, "body", None)
        if case is None or (not isinstance(body, (dict, list)) and not case.query):
            continue  # no string of its own to put U+0000 in
        if isinstance(body, (dict, list)):
            case.body = _with_nul(body)
        if case.query:
            case.query = _with_nul(case.query)
        response = case.call(base_url=url, headers={**headers, "Connection": "close"}, timeout=30)
        sent += 1
        if response.status_code >= 500:
            found.append(
                ServerError(
                    service,
                    operation.label,
                    "U+0000",
                    response.status_code,
                    case.as_curl_command(headers={})[:600],
                    response.text[:400],
                )
            )
    return sent, found


Probe = Callable[[str, str, dict[str, str], dict[str, str]], tuple[int, list[ServerError]]]


async def _against_services(
    store: str, folder: Path, probe: Probe
) -> tuple[int, list[ServerError]]:
    """The store's services served and seeded, `probe` run against each: requests, 5xx found."""
    cluster = Cluster(folder, store, {}, names=SERVICES[store])
    sent, errors = 0, []
    try:
        await cluster.start()
        known = await _seed(cluster)
        headers = cluster.headers(COUNTY)
        for name in SERVICES[store]:
            count, found = await asyncio.to_thread(
                probe, name, cluster.services[name].url, headers, known
            )
            sent += count
            errors += found
    finally:
        await cluster.close()
    return sent, errors


@pytest.mark.parametrize("store", ["sqlite", "postgresql"], indirect=True)
async def test_no_generated_request_gives_a_server_error(store: str, tmp_path: Path) -> None:
    sent, errors = await _against_services(store, tmp_path, _fuzz)
    assert sent >= EXAMPLES * 25 * len(SERVICES[store])
    assert errors == [], f"{len(errors)} server errors:\n" + "\n".join(map(str, errors))


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
async def test_u0000_in_any_string_is_not_a_server_error(store: str, tmp_path: Path) -> None:
    sent, errors = await _against_services(store, tmp_path, _nul_probe)
    assert sent >= 10 * len(SERVICES[store])
    assert errors == [], f"{len(errors)} server errors:\n" + "\n".join(map(str, errors))
