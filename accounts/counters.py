"""Fixed-window counters in the cache, counted atomically: the brute-force guard and the API throttles.

With Redis (production) one Lua script increments the counter and starts its window in a single
step, so concurrent requests on any number of processes each get a distinct count: the sixth of
fifty simultaneous attempts sees 6, never 5. (Django's `cache.incr` on Redis checks that the key
exists and then increments it; a window that expires in between would leave a counter with no
expiry, locking an account out for good.) Without Redis the local-memory cache's lock gives the
same guarantee within the one process it serves.
"""

import time

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from redis.commands.core import Script

_HIT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""
# Give a slot back only while its window lives: a late release must not start a window at -1.
_RELEASE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('DECR', KEYS[1])
end
return 0
"""
_scripts: dict[str, Script] = {}


def _redis(key: str):
    """(redis client, full key) when the default cache is Redis, else None."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    full_key = backend.make_and_validate_key(key)
    return backend._cache.get_client(full_key, write=True), full_key


def _script(name: str, source: str, client) -> Script:
    if name not in _scripts:
        _scripts[name] = client.register_script(source)
    return _scripts[name]


def counter_hit(key: str, *, window: int) -> tuple[int, int]:
    """Count one more in `key`'s window (started by the first hit, `window` seconds long).

    Returns (the count including this hit, seconds until the window ends).
    """
    redis = _redis(key)
    if redis is not None:
        client, full_key = redis
        count, ttl = _script("hit", _HIT, client)(keys=[full_key], args=[window], client=client)
        return int(count), max(int(ttl), 1)
    now = time.time()
    cache.add(f"{key}:ends", now + window, window)
    cache.add(key, 0, window)
    try:
        count = cache.incr(key)
    except ValueError:  # the window ended between add() and incr()
        cache.set(f"{key}:ends", now + window, window)
        cache.set(key, 1, window)
        count = 1
    ends = cache.get(f"{key}:ends") or now + window
    return count, max(int(ends - now + 0.999), 1)


def counter_release(key: str) -> None:
    """Take back one hit (an attempt that turned out not to count), if its window still runs."""
    redis = _redis(key)
    if redis is not None:
        client, full_key = redis
        _script("release", _RELEASE, client)(keys=[full_key], client=client)
        return
    try:
        cache.decr(key)
    except ValueError:
        pass


def counters_clear(prefix: str) -> None:
    """Forget every counter under `prefix` (tests, and an admin unlocking everyone)."""
    redis = _redis(prefix)
    if redis is not None:
        client, full_prefix = redis
        keys = list(client.scan_iter(match=f"{full_prefix}*", count=500))
        if keys:
            client.delete(*keys)
        return
    store = getattr(caches["default"], "_cache", None)
    if isinstance(store, dict):  # the local-memory cache: its keys are "<key prefix>:<version>:<key>"
        for full_key in list(store):
            key = full_key.split(":", 2)[-1]
            if key.startswith(prefix):
                cache.delete(key)
