"""kopf wiring: importing this package registers every handler.

Run with ``kopf run -m wattbit.handlers`` or ``python -m wattbit``.
"""

# startup first: its configure handler builds the context every other startup handler uses
# (kopf runs startup handlers in the order they are registered).
from wattbit.handlers import startup  # isort: skip
from wattbit.handlers import (
    discovery,
    indexes,
    leadership,
    loop,
    powersignals,
    references,
    regions,
    webhooks,
)

__all__ = [
    "discovery",
    "indexes",
    "leadership",
    "loop",
    "powersignals",
    "references",
    "regions",
    "startup",
    "webhooks",
]
