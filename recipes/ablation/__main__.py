"""`python -m recipes.ablation`: see the package docstring."""

import sys

from .cli import main

sys.exit(main())
