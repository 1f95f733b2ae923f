"""Plumbing every part of the cycle stands on: the unit of work, the clock, the job queue and its
workers' jobs, events and webhooks, idempotency, users and API keys."""
