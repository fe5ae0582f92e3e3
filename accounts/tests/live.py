"""Real HTTP against pytest-django's live server, from many threads at once."""

import json
import threading
import time
import urllib.error
import urllib.request


def post(url: str, body: dict, *, headers: dict | None = None, timeout: float = 30) -> tuple[int, dict]:
    """POST JSON; (status, JSON body). A connection the server's listen queue turned away (reset
    before it was accepted, so never processed) is tried again, as a client library would."""
    for attempt in range(20):
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else {}
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else {}
        except (ConnectionResetError, ConnectionRefusedError, urllib.error.URLError) as error:
            reason = getattr(error, "reason", error)
            if not isinstance(reason, (ConnectionResetError, ConnectionRefusedError)) or attempt == 19:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def race(count: int, send) -> list[tuple[int, dict]]:
    """Call `send(i)` from `count` threads released at the same instant; the answers, in order of i."""
    barrier = threading.Barrier(count)
    results: list[tuple[int, dict] | None] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = send(i)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller's assertion
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results
