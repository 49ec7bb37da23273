"""kopf wiring: importing this package registers every handler.

Run with ``kopf run -m wattbit.handlers`` or ``python -m wattbit``.
"""

from wattbit.handlers import indexes, powersignals, regions, startup, webhooks, workloads

__all__ = ["indexes", "powersignals", "regions", "startup", "webhooks", "workloads"]
