"""The payment service keeps its own copy of fees from catalogue events and owes them per dossier."""

from datetime import UTC, date, datetime

from contracts import build
from contracts.catalog import ProcedurePublished
from contracts.dossier import ApplicantContact, DossierReceived
from kit.bus.memory import MemoryBus
from kit.testing import as_user, eventually, serving
from payment.app import create_app
from payment.settings import PaymentSettings

CASHIER = as_user("cashier1", "cashier")


async def test_a_received_dossier_owes_the_fee_of_its_channel(store):
    bus = MemoryBus()
    async with serving(create_app(PaymentSettings(), bus=bus, store=store)) as client:
        procedure = ProcedurePublished(
            code="1.009974", version=1, name_vi="Cấp giấy phép xây dựng", field_code="xay-dung", level="commune",
            agency_code="000.00.21.H49", online_level="partial",
            processing_times=[{"channel": "online", "value": 15, "unit": "days"}],
            fees=[{"channel": "online", "amount": 75000, "description": "Lệ phí cấp giấy phép xây dựng"},
                  {"channel": "in_person", "amount": 90000, "description": "Lệ phí tại quầy"}],
            effective_from=date(2025, 7, 1))
        await bus.publish("catalog.events", build(procedure, source="/catalog", subject="1.009974"), key="1.009974")
        code = "000.00.21.H49-261123-0003"
        at = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
        received = DossierReceived(code=code, sequence=2, state="received", status_code=2, procedure_code="1.009974",
                                   procedure_name="Cấp giấy phép xây dựng", agency_code="000.00.21.H49",
                                   channel="online", occurred_at=at, security_code_hash="0" * 64,
                                   applicant=ApplicantContact(name="An"), received_at=at, received_by="r1",
                                   result_channel="online")
        # Wait for the fee copy first: the two topics are independent streams.
        await eventually(lambda: store.collection("procedure_fees").get("1.009974"))
        await bus.publish("dossier.events", build(received, source="/dossier", subject=code), key=code)

        async def owed():
            r = await client.get(f"/payments/dossiers/{code}", headers=CASHIER)
            return r.json() if r.status_code == 200 else None

        fees = await eventually(owed)
        assert fees["status"] == "unpaid"
        assert fees["items"] == [{"description": "Lệ phí cấp giấy phép xây dựng", "amount": 75000}]
        assert (await client.get("/payments/dossiers/nope", headers=CASHIER)).status_code == 404
    await bus.stop()
