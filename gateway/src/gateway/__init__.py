"""Một Cửa API gateway."""
