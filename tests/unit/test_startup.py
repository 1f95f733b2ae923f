"""Start-up stays cheap: importing o2c pulls in no web stack, and building
the app imports none of the heavy document libraries (WeasyPrint with its
fonts, factur-x, openpyxl), which load where they are used. Checked in a
fresh interpreter, so what other tests imported does not count."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["weasyprint", "facturx", "openpyxl", "pydyf", "fontTools", "PIL", "lxml"]

PROBE = """
import json, sys
def loaded(names):
    return sorted({m.split(".")[0] for m in sys.modules} & set(names))
import o2c, o2c.cli
out = {"import": loaded(["flask", "sqlalchemy", "werkzeug", "marshmallow"] + HEAVY)}
o2c.create_app()
out["create_app"] = loaded(HEAVY)
from o2c.worker import load_job_modules
load_job_modules()
out["worker"] = loaded(HEAVY)
print(json.dumps(out))
"""


def test_importing_o2c_and_creating_the_app_import_no_heavy_library(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "O2C_DATABASE_URL": f"sqlite:///{tmp_path / 'o2c.sqlite3'}",
           "O2C_ENV": "testing"}
    run = subprocess.run([sys.executable, "-c", f"HEAVY = {HEAVY!r}\n" + PROBE], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    loaded = json.loads(run.stdout.strip().splitlines()[-1])
    assert loaded["import"] == [], "importing o2c (or o2c.cli) must not import " + ", ".join(loaded["import"])
    assert loaded["create_app"] == [], "create_app must not import " + ", ".join(loaded["create_app"])
    assert loaded["worker"] == [], "loading the job kinds must not import " + ", ".join(loaded["worker"])
