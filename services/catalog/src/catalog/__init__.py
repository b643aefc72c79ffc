"""Một Cửa catalog service."""
