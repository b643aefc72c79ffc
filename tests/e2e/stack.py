"""Moved to src/motcua/stack.py (the benchmark and `make load` use it too); kept for imports being migrated."""

from motcua.stack import *  # noqa: F401,F403
from motcua.stack import GATEWAY_LIMITS, Stack, distributed, embedded  # noqa: F401
