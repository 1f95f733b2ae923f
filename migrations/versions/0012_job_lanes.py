"""Job lanes: claim the jobs of a lane without reading the other lanes' rows.

Workers now claim per lane, each lane being a set of job kinds
(``o2c.services.platform.jobs.LANE_OF``): ``kind IN (…)`` among unfinished jobs,
oldest ``run_at`` first. The index on ``run_at`` alone made a lane's claim walk
past every due job of the other lanes (a backlog of 500 PDF renders in front of
one webhook delivery); ``(kind, run_at, id)`` over queued and running jobs
serves it directly, and, being partial, leaves failed jobs out. The lane is
derived from the kind, so no column is added. Nothing else reads jobs by
``run_at`` alone: that index is dropped.

Revision ID: 0012
Revises: 0011
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UNFINISHED = sa.text("status IN ('queued', 'running')")


def upgrade() -> None:
    op.create_index("ix_jobs_due_by_kind", "jobs", ["kind", "run_at", "id"],
                    postgresql_where=UNFINISHED, sqlite_where=UNFINISHED)
    op.drop_index("ix_jobs_run_at", table_name="jobs")


def downgrade() -> None:
    op.create_index("ix_jobs_run_at", "jobs", ["run_at"])
    op.drop_index("ix_jobs_due_by_kind", table_name="jobs")
