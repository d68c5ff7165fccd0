"""The one exception type for mistakes a user can fix: the CLI prints it as a single line."""


class GanError(Exception):
    """Bad input (config, dataset, checkpoint, path): shown as one line, exit code 2."""
