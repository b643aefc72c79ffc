"""HTTP routes of the satisfaction ratings: the invitation's public page (the link is the credential) and
the leaders' summary. The app sets `app.state.ratings` (a `feedback.ratings.Ratings`)."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from kit.identity import CurrentCaller

from feedback.ratings import SUMMARY_ROLES, InvitationRead, RatingCreate, RatingRead, Ratings, RatingSummary

router = APIRouter(tags=["ratings"])
AGENCY_CODE = r"^[0-9A-Za-z.]{3,40}$"


def get_ratings(request: Request) -> Ratings:
    return request.app.state.ratings


RatingsDep = Annotated[Ratings, Depends(get_ratings)]
Token = Annotated[str, Path(description="the token of the invitation's link")]
NOT_FOUND = {404: {"description": "the link is not valid (the same answer whatever is wrong with it)"}}


@router.get("/ratings/invitations/{token}", response_model=InvitationRead, responses=NOT_FOUND,
            summary="The rating page of a returned dossier (public: the link is the credential)")
async def get_invitation(ratings: RatingsDep, token: Token) -> InvitationRead:
    """The dossier, its procedure and agency, whether it was rated, and the reasons to choose from."""
    return await ratings.invitation(token)


@router.post("/ratings/invitations/{token}", response_model=RatingRead, status_code=201,
             summary="Rate a returned dossier, once (public: the link is the credential)",
             responses={**NOT_FOUND, 409: {"description": "already rated"},
                        422: {"description": "score not 1-5, an unknown reason, a comment too long, extra fields"}})
async def rate(ratings: RatingsDep, token: Token, form: RatingCreate) -> RatingRead:
    return await ratings.rate(token, score=form.score, reasons=form.reasons, comment=form.comment)


@router.get("/ratings/summary", response_model=RatingSummary, response_model_by_alias=True,
            summary="Ratings per agency over a period: count, average, satisfied share, scores and reasons",
            responses={422: {"description": "bad dates, from after to, or a period over 366 days"}})
async def summary(ratings: RatingsDep, caller: CurrentCaller,
                  period_from: Annotated[date, Query(alias="from", description="first day, YYYY-MM-DD")],
                  to: Annotated[date, Query(description="last day, YYYY-MM-DD (inclusive)")],
                  agency: Annotated[str | None, Query(pattern=AGENCY_CODE)] = None) -> RatingSummary:
    """Days are local (Asia/Ho_Chi_Minh) and count the day a rating was given. Without `agency`: one row
    per agency with ratings in the period, and the total."""
    caller.require(*SUMMARY_ROLES)
    return await ratings.summary(period_from, to, agency)
