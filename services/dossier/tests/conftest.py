import contextlib

import httpx
import pytest
from asgi_lifespan import LifespanManager

from catalog.app import create_app as catalog_app
from catalog.settings import CatalogSettings
from dossier.app import create_app as dossier_app
from dossier.settings import DossierSettings
from kit.bus.memory import MemoryBus
from kit.store.sqlite import SqliteStore
from kit.testing import serving

SUBMISSION = {
    "procedure_code": "1.000894",
    "applicant": {"name": "Nguyễn Văn An", "id_number": "022090001234", "phone": "0912345678",
                  "email": "an@example.vn", "address": "Phường Hồng Gai, Hạ Long, Quảng Ninh"},
    "documents": [{"code": "TK", "originals": 1}, {"code": "XNTTHN", "originals": 1}],
    "result_channel": "online",
}


@pytest.fixture
async def platform(store, tmp_path):
    """The real catalogue (served over ASGI) and the dossier service on the store under test, one bus."""
    bus = MemoryBus()
    catalog_store = SqliteStore(tmp_path / "catalog.sqlite3")
    catalog = catalog_app(CatalogSettings(seed_demo=True), bus=bus, store=catalog_store)
    async with contextlib.AsyncExitStack() as stack:
        manager = await stack.enter_async_context(LifespanManager(catalog))
        catalog_client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://catalog"))
        # sqlite_dir: the embedded mode's files on disk stay in this test's own directory
        app = dossier_app(DossierSettings(catalog_url="http://catalog", sqlite_dir=tmp_path), bus=bus, store=store,
                          catalog_client=catalog_client)
        client = await stack.enter_async_context(serving(app))
        client.bus = bus
        client.store = store
        client.app = app
        yield client
    await bus.stop()
    await catalog_store.stop()
