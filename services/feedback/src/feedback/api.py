from fastapi import APIRouter, Request

from feedback.domain import PetitionDraft, PetitionPublic

router = APIRouter(tags=["petitions"])


@router.post("/petitions", response_model=PetitionPublic, status_code=201, summary="Send a petition (public)")
async def submit(request: Request, draft: PetitionDraft) -> PetitionPublic:
    petition = await request.app.state.feedback.submit(draft)
    return PetitionPublic.model_validate(petition.model_dump())
