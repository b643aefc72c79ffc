from kit.http import run_service
from notification.app import create_app
from notification.settings import NotificationSettings

run_service(create_app, NotificationSettings())
