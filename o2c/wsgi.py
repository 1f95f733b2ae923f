"""The WSGI entry point for gunicorn: ``o2c.wsgi:app``."""
from o2c import create_app

app = create_app()
