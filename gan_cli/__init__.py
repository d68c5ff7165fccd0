"""gan-cli: a command-line experiment runner for generative adversarial networks."""

import os
import sys

__version__ = "0.1.0"


def _is_the_gan_command() -> bool:
    """True in the ``gan`` console script and in ``python -m gan_cli`` (where Python names the
    program "-m" while it imports the package)."""
    program = sys.argv[0] if sys.argv else ""
    return program == "-m" or os.path.splitext(os.path.basename(program))[0] == "gan"


# Ctrl-C must be one line and exit 130 from the command's first moment, and this file is the
# first of gan-cli that Python runs (a slow start spends seconds before the cli module is read).
# Anything else that imports gan_cli (tests, a notebook) keeps its own Ctrl-C.
if _is_the_gan_command():
    import signal

    from gan_cli.training.interrupts import exit_at_once

    signal.signal(signal.SIGINT, exit_at_once)
