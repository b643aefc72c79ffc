"""Một Cửa payment service."""
