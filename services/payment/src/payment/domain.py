"""Fees a dossier owes, from the payment service's own copy of the procedure's fee list. Pure."""

from typing import Literal

from pydantic import BaseModel

from contracts.catalog import Fee


class FeeItem(BaseModel):
    description: str
    amount: int  # VND


class DossierFees(BaseModel):
    dossier_code: str
    procedure_code: str
    channel: str
    items: list[FeeItem]
    status: Literal["no_fee", "unpaid", "paid"]

    @property
    def total(self) -> int:
        return sum(i.amount for i in self.items)


def fees_for(*, dossier_code: str, procedure_code: str, channel: str, fees: list[Fee]) -> DossierFees:
    items = [FeeItem(description=f.description or "Lệ phí", amount=f.amount)
             for f in fees if f.channel == channel and f.amount > 0]
    return DossierFees(dossier_code=dossier_code, procedure_code=procedure_code, channel=channel, items=items,
                       status="unpaid" if items else "no_fee")
