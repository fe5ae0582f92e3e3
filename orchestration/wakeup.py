"""Wake a waiting request the moment a worker finishes an execution.

With Redis, the worker pushes to a short-lived list that the waiter blocks on (BLPOP), so
`?wait=N` answers within a millisecond or two of the result. Without Redis (the embedded
default, where tasks run inline) there is nothing to wait for and the waiter reads the row.
"""

import functools

from django.conf import settings

WAKEUP_TTL = 60  # seconds a signal waits for a waiter that may never come


@functools.cache
def _client():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)


def notify(key: str) -> None:
    if not settings.REDIS_URL:
        return
    with _client().pipeline() as pipe:
        pipe.rpush(key, 1).expire(key, WAKEUP_TTL).execute()


def wait(key: str, timeout: float) -> bool:
    """Block up to `timeout` seconds for `notify(key)`; True when it came."""
    if not settings.REDIS_URL or timeout <= 0:
        return False
    return _client().blpop([key], timeout=timeout) is not None
