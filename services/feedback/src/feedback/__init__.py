"""Một Cửa feedback service."""
