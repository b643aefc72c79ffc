"""Composition root of the feedback service."""

from fastapi import FastAPI

from kit.blobs import make_blobs
from kit.bus import EventBus
from kit.http import create_service_app
from kit.runtime import Runtime
from kit.store import DocumentStore

from contracts.calendar import TOPIC as CALENDAR_EVENTS
from contracts.dossier import TOPIC as DOSSIER_EVENTS
from feedback import api, api_open311, api_ratings
from feedback.calendar_copy import CalendarCopy
from feedback.handlers import INDEXES, PETITIONS, Feedback
from feedback.rating_settings import RatingSettings
from feedback.ratings import INVITATIONS, RATINGS, Ratings
from feedback.settings import FeedbackSettings


def create_app(settings: FeedbackSettings | None = None, *, bus: EventBus | None = None,
               store: DocumentStore | None = None, rating_settings: RatingSettings | None = None) -> FastAPI:
    settings = settings or FeedbackSettings()
    runtime = Runtime(settings, bus=bus, store=store)
    runtime.outbox(PETITIONS, INVITATIONS, RATINGS)
    ratings = Ratings(runtime, rating_settings or RatingSettings())
    runtime.subscribe(DOSSIER_EVENTS, "feedback-ratings", ratings.on_dossier_event)
    calendar = CalendarCopy(runtime.store, settings)
    feedback = Feedback(runtime, settings, calendar, make_blobs(settings, runtime.store))
    runtime.subscribe(DOSSIER_EVENTS, "feedback", feedback.on_dossier_event)
    runtime.subscribe(CALENDAR_EVENTS, "feedback-calendar", calendar.on_calendar_event)
    runtime.every(settings.timer_poll_seconds, feedback.fire_due_timers, name="petition-timers")

    async def on_startup() -> None:
        petitions = runtime.store.collection(PETITIONS)
        for fields in INDEXES:
            await petitions.ensure_index(fields)
        await ratings.ensure_indexes()

    app = create_service_app(runtime, title="Một Cửa — feedback",
                             description="Petitions with their legal deadlines, public questions and answers, "
                                         "satisfaction ratings, Open311.",
                             routers=[api.router, api_ratings.router, api_open311.router], on_startup=on_startup)
    app.state.feedback = feedback
    app.state.ratings = ratings
    return app
