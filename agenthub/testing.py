"""Test fixtures shared by every app (a real Celery worker, ...). Loaded from the root conftest."""
