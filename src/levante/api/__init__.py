"""The HTTP layer: thin routes over the serving, tenancy and metering packages."""

from levante.api.app import create_app

__all__ = ["create_app"]
