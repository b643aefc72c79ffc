"""HTTP routes of outbound webhooks, for administrators: subscriptions, the delivery log, replays.
Parse, call the service, shape the answer. A subscription's secret is in an answer twice only: when the
subscription is created and when its secret is rotated."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from kit.identity import Caller, CurrentCaller
from pydantic import BaseModel, ConfigDict, Field, field_validator

from notification.webhooks.domain import MAX_URL_LENGTH, Delivery, DeliveryStatus, Subscription, WebhookAttempt
from notification.webhooks.service import Webhooks


def require_admin(caller: CurrentCaller) -> Caller:
    # A dependency, so the role is checked before the body: a non-admin learns nothing from a 422.
    return caller.require("admin")


Admin = Annotated[Caller, Depends(require_admin)]
SubscriptionId = Annotated[str, Path(min_length=1, max_length=100)]
DeliveryId = Annotated[str, Path(min_length=1, max_length=100)]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=1000, description="`next_cursor` of the previous page")]
Url = Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH,
                           examples=["https://dichvucong.gov.vn/hooks/motcua"],
                           description="https (http only where the deployment allows it); no user:password")]
EventTypes = Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]], Field(
    min_length=1, max_length=100, examples=[["vn.motcua.dossier.received.v1"]],
    description="exact CloudEvents types, as in the AsyncAPI document")]
Description = Annotated[str, Field(max_length=500)]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "not signed in"}, 403: {"description": "not an administrator"},
    404: {"description": "no such subscription or delivery"}}


# -- shapes ---------------------------------------------------------------------------------------------


class WebhookSubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url
    event_types: EventTypes
    description: Description = ""
    active: bool = True


class WebhookSubscriptionUpdate(BaseModel):
    """Only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    active: bool | None = None

    @field_validator("*")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null: leave the field out to keep its value")
        return value


class WebhookSecretRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    previous_secret_valid_seconds: int | None = Field(
        default=None, ge=0, le=7 * 86_400,
        description="how long deliveries are also signed with the old secret; 0 if it leaked; "
                    "default MOTCUA_WEBHOOK_PREVIOUS_SECRET_VALID_SECONDS")


class WebhookSubscriptionRead(BaseModel):
    id: str
    url: str
    event_types: list[str]
    description: str
    active: bool
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    secret_rotated_at: datetime | None
    previous_secret_expires_at: datetime | None

    @classmethod
    def of(cls, subscription: Subscription) -> "WebhookSubscriptionRead":
        return cls.model_validate(subscription.model_dump(exclude={"secret", "previous_secret"}))


class WebhookSubscriptionWithSecret(WebhookSubscriptionRead):
    secret: str = Field(description="the signing secret, shown only in this answer: store it now")


class WebhookSubscriptionPage(BaseModel):
    items: list[WebhookSubscriptionRead]
    next_cursor: str | None = None


class WebhookDeliverySummary(BaseModel):
    id: str
    subscription_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    tries: int = Field(description="tries since the delivery was created or last replayed")
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    last_attempt: WebhookAttempt | None

    @classmethod
    def of(cls, delivery: Delivery) -> "WebhookDeliverySummary":
        return cls.model_validate({**delivery.model_dump(exclude={"attempts", "payload"}),
                                   "last_attempt": delivery.attempts[-1] if delivery.attempts else None})


class WebhookDeliveryRead(WebhookDeliverySummary):
    attempts: list[WebhookAttempt] = Field(description="every try, oldest first, replays marked")
    payload: dict[str, Any] = Field(description="the CloudEvent as sent (structured JSON mode)")

    @classmethod
    def of(cls, delivery: Delivery) -> "WebhookDeliveryRead":
        summary = WebhookDeliverySummary.of(delivery).model_dump()
        return cls.model_validate({**summary, "attempts": delivery.attempts, "payload": delivery.payload})


class WebhookDeliveryPage(BaseModel):
    items: list[WebhookDeliverySummary]
    next_cursor: str | None = None


class WebhookReplayResult(BaseModel):
    subscription_id: str
    replayed: int = Field(description="dead deliveries sent again")


# -- routes ---------------------------------------------------------------------------------------------


def create_router(webhooks: Webhooks) -> APIRouter:
    """The routes, bound to one service instance (the composition root includes the router)."""
    router = APIRouter(tags=["webhooks"], responses=ERRORS)

    @router.post("/webhooks/subscriptions", status_code=201, response_model=WebhookSubscriptionWithSecret,
                 summary="Subscribe an integration to event types (the secret is returned once)")
    async def create_subscription(body: WebhookSubscriptionCreate, caller: Admin,
                                  response: Response) -> WebhookSubscriptionWithSecret:
        subscription, secret = await webhooks.create(url=body.url, event_types=body.event_types,
                                                     description=body.description, active=body.active,
                                                     by=caller.subject)
        response.headers["Location"] = f"/webhooks/subscriptions/{subscription.id}"
        return WebhookSubscriptionWithSecret(**WebhookSubscriptionRead.of(subscription).model_dump(), secret=secret)

    @router.get("/webhooks/subscriptions", response_model=WebhookSubscriptionPage,
                summary="Subscriptions, oldest first")
    async def list_subscriptions(caller: Admin, limit: Limit = 20, cursor: Cursor = None) -> WebhookSubscriptionPage:
        items, next_cursor = await webhooks.subscription_page(limit=limit, cursor=cursor)
        return WebhookSubscriptionPage(items=[WebhookSubscriptionRead.of(s) for s in items], next_cursor=next_cursor)

    @router.get("/webhooks/subscriptions/{subscription_id}", response_model=WebhookSubscriptionRead,
                summary="One subscription (never its secret)")
    async def get_subscription(subscription_id: SubscriptionId, caller: Admin) -> WebhookSubscriptionRead:
        return WebhookSubscriptionRead.of(await webhooks.subscription(subscription_id))

    @router.patch("/webhooks/subscriptions/{subscription_id}", response_model=WebhookSubscriptionRead,
                  summary="Change a subscription's URL, event types, description or activity")
    async def update_subscription(subscription_id: SubscriptionId, body: WebhookSubscriptionUpdate,
                                  caller: Admin) -> WebhookSubscriptionRead:
        return WebhookSubscriptionRead.of(await webhooks.update(subscription_id, by=caller.subject,
                                                         **body.model_dump(exclude_unset=True)))

    @router.delete("/webhooks/subscriptions/{subscription_id}", status_code=204,
                   summary="Remove a subscription and its delivery log")
    async def delete_subscription(subscription_id: SubscriptionId, caller: Admin) -> Response:
        await webhooks.delete(subscription_id, by=caller.subject)
        return Response(status_code=204)

    @router.post("/webhooks/subscriptions/{subscription_id}/secret", response_model=WebhookSubscriptionWithSecret,
                 summary="Rotate the signing secret (the new one is returned once)")
    async def rotate_secret(subscription_id: SubscriptionId, caller: Admin,
                            body: WebhookSecretRotate | None = None) -> WebhookSubscriptionWithSecret:
        grace = body.previous_secret_valid_seconds if body else None
        subscription, secret = await webhooks.rotate_secret(subscription_id, by=caller.subject,
                                                            previous_valid_seconds=grace)
        return WebhookSubscriptionWithSecret(**WebhookSubscriptionRead.of(subscription).model_dump(), secret=secret)

    @router.get("/webhooks/subscriptions/{subscription_id}/deliveries", response_model=WebhookDeliveryPage,
                summary="A subscription's deliveries, newest first")
    async def list_deliveries(subscription_id: SubscriptionId, caller: Admin, status: DeliveryStatus | None = None,
                              limit: Limit = 20, cursor: Cursor = None) -> WebhookDeliveryPage:
        items, next_cursor = await webhooks.delivery_page(subscription_id, status=status, limit=limit, cursor=cursor)
        return WebhookDeliveryPage(items=[WebhookDeliverySummary.of(d) for d in items], next_cursor=next_cursor)

    @router.get("/webhooks/deliveries/{delivery_id}", response_model=WebhookDeliveryRead,
                summary="One delivery with its attempts and payload")
    async def get_delivery(delivery_id: DeliveryId, caller: Admin) -> WebhookDeliveryRead:
        return WebhookDeliveryRead.of(await webhooks.delivery(delivery_id))

    @router.post("/webhooks/deliveries/{delivery_id}/replay", status_code=202, response_model=WebhookDeliverySummary,
                 summary="Send one delivery again now, whatever its status")
    async def replay_delivery(delivery_id: DeliveryId, caller: Admin) -> WebhookDeliverySummary:
        return WebhookDeliverySummary.of(await webhooks.replay(delivery_id, by=caller.subject))

    @router.post("/webhooks/subscriptions/{subscription_id}/replay", status_code=202,
                 response_model=WebhookReplayResult, summary="Send every dead delivery of a subscription again")
    async def replay_dead(subscription_id: SubscriptionId, caller: Admin) -> WebhookReplayResult:
        return WebhookReplayResult(subscription_id=subscription_id,
                            replayed=await webhooks.replay_dead(subscription_id, by=caller.subject))

    return router
