"""Sample-quality metrics, one file each; every module registers its metric in ``METRICS``."""
