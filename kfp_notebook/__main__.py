"""`python -m kfp_notebook`: the kfp-notebook command."""

from __future__ import annotations

import sys

from kfp_notebook.headless.cli import main

sys.exit(main())
