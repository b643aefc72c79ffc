from catalog.app import create_app
from catalog.settings import CatalogSettings
from kit.http import run_service

run_service(create_app, CatalogSettings())
