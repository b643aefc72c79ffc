from feedback.app import create_app
from feedback.settings import FeedbackSettings
from kit.http import run_service

run_service(create_app, FeedbackSettings())
