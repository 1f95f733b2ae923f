"""Use cases: one function per business event, run inside one unit of work.
Only ``unit_of_work`` commits."""
