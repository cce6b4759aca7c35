"""Levante: a self-hostable AI platform that serves open-weight models and meters every token."""

__version__ = "0.1.0"
