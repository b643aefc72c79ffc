from kit.http import run_service
from payment.app import create_app
from payment.settings import PaymentSettings

run_service(create_app, PaymentSettings())
