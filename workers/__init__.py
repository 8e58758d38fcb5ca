"""Background work on RQ: queues declared once, jobs as plain functions, a worker entry point."""
