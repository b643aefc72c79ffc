from dossier.lookup.app import create_app
from dossier.settings import LookupSettings
from kit.http import run_service

run_service(create_app, LookupSettings())
