"""A dossier waiting on its fees moves on when the payment service says that very fee item is paid,
once, whatever the redeliveries; a payment for anything else changes nothing."""

from datetime import datetime

from kit.testing import eventually

from contracts import build
from contracts.payment import PaymentFailed, PaymentSucceeded
from kit.calendar import TZ

from .planted import leader, received, running, specialist

AT = datetime(2030, 10, 1, 9, 0, tzinfo=TZ)  # in the future: the service's own timer job leaves it alone


def paid(code: str, item_id: str, event_type=PaymentSucceeded, **extra):
    fields = dict(payment_id="pay-1", dossier_code=code, item_id=item_id, amount=100_000, method="vnpay",
                  occurred_at=AT)
    if event_type is PaymentSucceeded:
        fields["paid_at"] = AT
    else:
        fields["status"] = "failed"
    return build(event_type(**fields, **extra), source="/payment", subject=code)


async def awaiting_fees(deps, code: str):
    planted = received(code, AT, await deps.policy.current()).to_agency(AT).assign(AT)
    d, p = planted.dossier, planted.policy
    planted.events += d.appraise(actor=specialist(d.assignee, d.current_agency), at=AT, policy=p, proposal="approve", reason="Đủ điều kiện")
    planted.events += d.approve(actor=leader(d.current_agency), at=AT, policy=p)
    planted.events += d.request_fees(actor=leader(d.current_agency), at=AT, policy=p, amount=100_000,
                                     description="Lệ phí đăng ký")
    return await planted.store(deps)


async def test_the_paid_fee_item_moves_the_dossier_back_to_where_it_was(store, tmp_path):
    async with running(store, tmp_path) as service:
        code = "000.00.21.H49-301001-0001"
        dossier = await awaiting_fees(service.deps, code)
        assert dossier.state == "awaiting_fees" and dossier.fees.item_id.startswith(f"{code}/fees-")
        bus = service.deps.dossiers.runtime.bus
        await bus.publish("payment.events", paid(code, "another-item"), key=code)
        await bus.publish("payment.events", paid(code, dossier.fees.item_id, PaymentFailed), key=code)
        event = paid(code, dossier.fees.item_id)
        await bus.publish("payment.events", event, key=code)
        await bus.publish("payment.events", event, key=code)  # delivered twice

        async def state():
            return (await service.deps.dossiers.get(code)).state

        assert await eventually(lambda: _is(state, "approved"))
        after = await service.deps.dossiers.get(code)
        assert [t.action for t in after.history].count("record_fees_paid") == 1
        assert after.history[-1].actor == "system" and after.fees.paid_at is not None


async def _is(check, expected):
    return await check() == expected
