"""``python -m wattbit.kubectl``: the same as the ``kubectl-wattbit`` console script."""

from __future__ import annotations

import sys

from wattbit.kubectl.main import main

sys.exit(main())
