from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from kit.identity import CurrentCaller

from notification.domain import OutboundMessage

router = APIRouter(tags=["messages"])


class MessagePage(BaseModel):
    items: list[OutboundMessage]


@router.get("/messages", response_model=MessagePage, summary="Messages recorded for a dossier")
async def messages(request: Request, caller: CurrentCaller,
                   dossier_code: Annotated[str, Query(min_length=5, max_length=64)]) -> MessagePage:
    caller.require("reception_officer", "leader", "admin")
    return MessagePage(items=await request.app.state.notifications.for_dossier(dossier_code))
