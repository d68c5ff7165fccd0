"""Datasets, one file each; every module registers its loader(s) in ``DATASETS``."""
