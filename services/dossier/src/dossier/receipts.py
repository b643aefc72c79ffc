"""The receipt of a dossier, printed on demand by whoever holds its security code (the code is never
stored, so the PDF can only be made by someone who presents it)."""

from pydantic import BaseModel, Field

from kit.problems import Problem

from dossier.domain import Dossier, State
from dossier.handlers import Deps
from dossier.receipt import Receipt, ReceiptDocument, ReceiptFile, render_receipt
from dossier.security import matches, normalise

# The same answer for an unknown dossier and a wrong code, as in the lookup: nothing to learn by guessing.
NO_MATCH = Problem(404, "dossier-not-found", "Không tìm thấy hồ sơ / Dossier not found",
                   "Không có hồ sơ khớp với mã hồ sơ và mã bảo mật. / No dossier matches this code and security code.")


class ReceiptRequest(BaseModel):
    security_code: str = Field(min_length=4, max_length=32)


def _receiver_name(dossier: Dossier) -> str | None:
    """The officer's name as signed on the receipt (their account id if the name is unknown)."""
    line = next((t for t in dossier.history if t.to_state is State.RECEIVED and t.from_state is not State.RECEIVED), None)
    return (line.actor_name or line.actor) if line else None


def _receipt_of(deps: Deps, dossier: Dossier, security_code: str) -> Receipt:
    names = {r.code: r.name for r in dossier.procedure.required_documents}
    documents = [ReceiptDocument(name=names.get(d.code, d.code), originals=d.originals, copies=d.copies,
                                 files=[ReceiptFile(filename=a.filename, sha256=a.sha256, size=a.size)
                                        for a in d.attachments])
                 for d in dossier.documents]
    s = deps.settings
    sequence = dossier.code.rsplit("-", 1)[-1]
    fee = None
    if dossier.fees:
        fee = f"{dossier.fees.amount:,} đồng — {'đã nộp' if dossier.fees.paid_at else 'chưa nộp'}".replace(",", ".")
    return Receipt(
        centre_name=s.centre_name, centre_address=s.centre_address, centre_phone=s.centre_phone,
        dossier_code=dossier.code, security_code=security_code, applicant_name=dossier.applicant.name,
        applicant_address=dossier.applicant.address, applicant_phone=dossier.applicant.phone,
        applicant_email=dossier.applicant.email, procedure_code=dossier.procedure.code,
        procedure_name=dossier.procedure.name_vi, documents=documents, sets=dossier.sets,
        processing_time=dossier.procedure.processing_time_text(dossier.channel), submitted_at=dossier.submitted_at,
        received_at=dossier.received_at, received_by=_receiver_name(dossier), appointment_at=dossier.due_at,
        result_channel=dossier.result_channel,
        ledger_entry=f"Vào Sổ theo dõi hồ sơ: Quyển số {dossier.submitted_at.astimezone(deps.timezone):%Y}, "
                     f"Số thứ tự {sequence}",
        fee_status=fee,
        lookup_url=s.lookup_url_template.format(code=dossier.code, security_code=normalise(security_code)))


async def receipt_pdf(deps: Deps, *, code: str, security_code: str) -> bytes:
    dossier = await deps.dossiers.get(code)
    if not matches(deps.pepper, code, security_code, dossier.security_code_hash if dossier else None):
        raise NO_MATCH
    return render_receipt(_receipt_of(deps, dossier, normalise(security_code)))
