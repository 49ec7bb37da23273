"""The policy simulator: replay signal and job traces and compare placement policies offline.

Run it with ``wattbit simulate SCENARIO`` (see ``docs/scenario-format.md``). The package parses
scenarios, builds signal traces from the embedded Japan-grid dataset or CSV, steps every policy
through the same traces in one pass, and reports carbon, cost and the share of the offline
optimum's savings each policy reaches.

It may import ``wattbit.core`` and ``yaml``, never Kubernetes, kopf or the providers.
"""
