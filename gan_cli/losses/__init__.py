"""GAN objectives, one file each; every module registers its loss in ``LOSSES``."""
