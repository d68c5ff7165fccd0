"""Training tricks, one file each; every module registers its trick in ``TRICKS``."""
