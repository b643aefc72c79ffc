from gateway.app import create_app
from gateway.settings import GatewaySettings
from kit.http import run_service

run_service(create_app, GatewaySettings())
