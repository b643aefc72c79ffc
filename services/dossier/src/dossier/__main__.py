from dossier.app import create_app
from dossier.settings import DossierSettings
from kit.http import run_service

run_service(create_app, DossierSettings())
