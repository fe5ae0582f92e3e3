from agenthub.api.dialect import SNAKE_CASE_PREFIX


def exclude_snake_case_dialect(endpoints, **kwargs):
    """/api/v1/ repeats /api/ in snake_case; the schema documents the camelCase dialect once."""
    return [endpoint for endpoint in endpoints if not endpoint[0].startswith(SNAKE_CASE_PREFIX)]


def strip_trailing_slashes(result, **kwargs):
    """Routes answer with or without a trailing slash; document them as the seed clients call them."""
    result["paths"] = {
        (path.rstrip("/") if path != "/" else path): operations for path, operations in result["paths"].items()
    }
    return result
