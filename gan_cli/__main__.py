"""`python -m gan_cli` is the same program as the `gan` console script."""

from gan_cli.cli import main

main()
