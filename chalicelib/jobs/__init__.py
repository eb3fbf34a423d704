"""Background work: jobs (a kind, a payload, a not-before time) run by per-kind handlers, at least
once, through a transport — SQS when deployed, a worker thread over SQLite locally.

One code path (:func:`chalicelib.jobs.runner.run_job`) decides what to do with a job; only the
transport that carries it differs. Handlers must be idempotent: a job may run more than once.
"""
