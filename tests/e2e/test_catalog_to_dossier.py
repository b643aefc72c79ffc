"""A published revision reaches the dossier service's own copy of the procedure through Kafka."""

import contextlib

import pytest

from catalog.app import create_app as catalog_app
from catalog.handlers import today
from catalog.seed import load
from catalog.settings import CatalogSettings
from dossier.app import create_app as dossier_app
from dossier.settings import DossierSettings
from kit.testing import KAFKA, MONGODB, as_user, eventually, require_server, serving, unique

from .helpers import submission_form

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


async def test_a_revision_reaches_the_dossier_copy_and_changes_what_a_submission_may_carry():
    require_server("Kafka", KAFKA)
    require_server("FerretDB", MONGODB)
    run = unique("cd")
    common = dict(bus="kafka", store="mongodb", kafka_bootstrap=KAFKA, mongodb_url=MONGODB, topic_prefix=f"{run}.",
                  database_prefix=f"{run}_", outbox_poll_seconds=0.2)
    async with contextlib.AsyncExitStack() as stack:
        catalog = await stack.enter_async_context(serving(catalog_app(CatalogSettings(**common, seed_demo=True))))
        # The dossier service has no HTTP route to the catalogue here: only Kafka can tell it.
        dossier_service = dossier_app(DossierSettings(**common, catalog_url="http://127.0.0.1:9"))
        dossier = await stack.enter_async_context(serving(dossier_service))
        copies = dossier_service.state.deps.procedures.coll  # the dossier service's own copy

        async def copy_version():
            doc = await copies.get("1.000894")
            return doc and doc["procedure_version"]

        assert await eventually(copy_version, timeout=60) == 1
        marriage = next(p for p in load("procedures.json") if p["code"] == "1.000894")
        revised = {**marriage, "effective_from": today().isoformat(), "required_documents": [
            *marriage["required_documents"], {"code": "CCCD", "name": "Căn cước công dân", "copies": 1}]}
        r = await catalog.put("/procedures/1.000894", json=revised, headers=as_user("catalog1", "catalog_admin"))
        assert r.status_code == 200, r.text

        assert await eventually(lambda: _is(copy_version, 2), timeout=30)
        doc = await copies.get("1.000894")
        assert any(d["code"] == "CCCD" for d in doc["required_documents"])
        submission = {"procedure_code": "1.000894",
                      "documents": [{"code": "CCCD", "copies": 1, "files": ["can-cuoc.pdf"]}],
                      "applicant": {"name": "Nguyễn Văn An", "id_number": "022090001234", "phone": "0912345678",
                                    "address": "Hạ Long, Quảng Ninh"}}
        r = await dossier.post("/dossiers", **submission_form(submission), headers=as_user("c", "citizen"))
        assert r.status_code == 201, r.text


async def _is(check, expected):
    return await check() == expected
