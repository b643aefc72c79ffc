"""HTTP routes for officers' work queues and the periodic report's indicators."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from kit.events import utcnow
from kit.identity import CurrentCaller

from dossier import indicators, queues
from dossier.api import DepsDep
from kit.calendar import TZ
from dossier.indicators import IndicatorReport
from dossier.queues import Queue, QueuePage

router = APIRouter(tags=["reports"])
REPORT_ROLES = ("leader", "admin")
AGENCY_CODE = r"^[0-9A-Z.]{3,40}$"


@router.get("/queues/{queue}", response_model=QueuePage, summary="An officer's work queue, by deadline",
            responses={403: {"description": "not an officer, or no agency for an agency queue"},
                       422: {"description": "bad queue, limit or cursor"}})
async def work_queue(deps: DepsDep, caller: CurrentCaller, queue: Queue,
                     limit: Annotated[int, Query(ge=1, le=100)] = 20,
                     cursor: Annotated[str | None, Query(max_length=400)] = None) -> QueuePage:
    """`intake`: dossiers at the counter (filed online and to be checked, or received and to be routed);
    `mine`: open dossiers assigned to you; `agency`: open dossiers at your agency; `nearing`: your
    agency's due within `nearing_working_days` working days and not overdue; `overdue`: past their due
    date (not those waiting on the citizen's supplement). Pass `next_cursor` back for the next page."""
    return await queues.queue_page(deps, caller=caller, queue=queue, limit=limit, cursor=cursor)


@router.get("/indicators", response_model=IndicatorReport, response_model_by_alias=True,
            summary="Received, resolved and pending counts for the periodic report (Biểu II.06a), and satisfaction",
            responses={422: {"description": "bad dates, from after to, or a period too long"}})
async def get_indicators(deps: DepsDep, caller: CurrentCaller,
                         period_from: Annotated[date, Query(alias="from", description="first day, YYYY-MM-DD")],
                         to: Annotated[date, Query(description="last day, YYYY-MM-DD (inclusive)")],
                         agency: Annotated[str | None, Query(pattern=AGENCY_CODE)] = None) -> IndicatorReport:
    """Without `agency`: one row per agency and the total. Days are local (Asia/Ho_Chi_Minh).

    `satisfaction` (766/QĐ-TTg): among the dossiers received in the period, the overdue ones, the citizens'
    ratings, and those rated unsatisfied or named by a petition; satisfaction = 1 − (overdue share +
    complaint share)."""
    caller.require(*REPORT_ROLES)
    return await indicators.report(deps.dossiers, start=period_from, end=to, today=utcnow().astimezone(TZ).date(),
                                   agency=agency, max_days=deps.settings.report_max_days)
