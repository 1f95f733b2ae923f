"""The WSGI entry point for gunicorn: ``o2c.wsgi:app``.

``o2c serve`` loads it once in gunicorn's master (``--preload``) and forks
the workers from it, so what is read here once is shared by every worker:
the revisions the migrations end at, which ``/readyz`` compares the database
with, are read now rather than by each worker's first readiness check."""
from o2c import create_app
from o2c.db.migrate import head_revisions

app = create_app()
head_revisions()
