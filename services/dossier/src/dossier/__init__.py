"""Một Cửa dossier service."""
