"""``kubectl wattbit``: a kubectl plugin that reads what wattbit decided and why.

Installed with the package as the console script ``kubectl-wattbit``, which kubectl finds on
``PATH``. One module per job: `args` parses, `cluster` reads the API server, one module per
command (`regions`, `explain`, `plan`, `listing`, `receipt`) turns bodies into rows and text,
`output` and `formatting` print them, `main` ties them together and maps errors to exit codes.

WARNING: read-only. Nothing here writes to the cluster, and it decides nothing of its own:
`plan` calls the operator's own snapshot (`wattbit.k8s.snapshots`) and core
(`wattbit.core.planner`). It must not import `wattbit.handlers` (import-linter).
"""
