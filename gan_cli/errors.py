"""The one exception type for mistakes a user can fix: the CLI prints it as a single line."""


class GanError(Exception):
    """Bad input (config, dataset, checkpoint, path): shown as one line, exit code 2."""


class Interrupted(Exception):
    """Training stopped on a signal after writing a checkpoint; exit code 128 + signal number."""

    def __init__(self, signum: int, step: int, run_dir: object):
        super().__init__(f"stopped by signal {signum} at step {step}")
        self.signum = signum
        self.step = step
        self.run_dir = run_dir
