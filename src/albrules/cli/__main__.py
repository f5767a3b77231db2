"""``python -m albrules.cli``: the ``albrules`` command."""

from . import main

main()
