from agenthub.api.dialect import SNAKE_CASE_PREFIX


def exclude_snake_case_dialect(endpoints, **kwargs):
    """/api/v1/ repeats /api/ in snake_case; the schema documents the camelCase dialect once."""
    return [endpoint for endpoint in endpoints if not endpoint[0].startswith(SNAKE_CASE_PREFIX)]
