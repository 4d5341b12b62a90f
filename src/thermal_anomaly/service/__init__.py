"""``thermal-anomaly serve``: a JSON API under /api/v1 and web pages at /, over the same pipeline as the CLI.

State: a database (SQLite in the data folder by default, any SQLAlchemy URL such as PostgreSQL otherwise)
plus files under the data folder. See :mod:`.core` (what it does), :mod:`.app` (HTTP), :mod:`.db`,
:mod:`.storage`, :mod:`.reports` and :mod:`.demo`.
"""

from .app import create_app
from .core import Service, ServiceError, Settings

__all__ = ["Service", "ServiceError", "Settings", "create_app"]
