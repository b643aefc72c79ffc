"""Composition root of the feedback service."""

from fastapi import FastAPI

from kit.bus import EventBus
from kit.http import create_service_app
from kit.runtime import Runtime
from kit.store import DocumentStore

from contracts.dossier import TOPIC as DOSSIER_EVENTS
from feedback import api
from feedback.handlers import PETITIONS, Feedback
from feedback.settings import FeedbackSettings


def create_app(settings: FeedbackSettings | None = None, *, bus: EventBus | None = None,
               store: DocumentStore | None = None) -> FastAPI:
    settings = settings or FeedbackSettings()
    runtime = Runtime(settings, bus=bus, store=store)
    runtime.outbox(PETITIONS)
    feedback = Feedback(runtime)
    runtime.subscribe(DOSSIER_EVENTS, "feedback", feedback.on_dossier_event)
    app = create_service_app(runtime, title="Một Cửa — feedback",
                             description="Petitions, public answers and satisfaction ratings.", routers=[api.router])
    app.state.feedback = feedback
    return app
