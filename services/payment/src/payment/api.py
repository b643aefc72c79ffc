from fastapi import APIRouter, Request

from kit.identity import CurrentCaller

from payment.domain import DossierFees

router = APIRouter(tags=["payments"])


@router.get("/payments/dossiers/{code}", response_model=DossierFees, summary="Fees owed by a dossier")
async def dossier_fees(request: Request, caller: CurrentCaller, code: str) -> DossierFees:
    caller.require("citizen", "cashier", "reception_officer", "admin")
    return await request.app.state.fees.for_dossier(code)
