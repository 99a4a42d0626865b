"""MedTL: label medical scans and fine-tune pretrained CNNs on them, offline."""

__version__ = "0.1.0"
