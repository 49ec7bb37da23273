"""kopf wiring: importing this package registers every handler.

Run with ``kopf run -m wattbit.handlers`` or ``python -m wattbit``.
"""

from wattbit.handlers import indexes, loop, powersignals, regions, startup, webhooks

__all__ = ["indexes", "loop", "powersignals", "regions", "startup", "webhooks"]
