"""GAN model families, one file each; every module registers its family in ``MODELS``."""
