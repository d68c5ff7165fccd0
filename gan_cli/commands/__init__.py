"""The `gan` commands, one module per verb (registered in gan_cli/cli.py)."""
