"""Một Cửa platform: the embedded runner and the command line."""
