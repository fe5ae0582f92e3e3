"""The log formatter: JSON lines with secrets masked (tokens, API keys, passwords, Stripe and LLM keys).

The code never logs a secret on purpose; this is the net under it. Django's own lines carry the
request (whose repr includes the query string a careless client put a key in), exception messages
can quote input, and a library may log a header. Masking the formatted line covers the message,
its arguments, extra fields and the traceback alike, and leaves the record itself untouched for
anything else that reads it in the process (tests, error trackers).
"""

import re

from pythonjsonlogger.json import JsonFormatter

_Q = r"""\\?["']?"""  # an optional quote, escaped inside a JSON string
_PATTERNS = [
    # A JWT: three base64url parts, the first two JSON objects ("eyJ" is base64 for '{"').
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
    # Our API keys: keep the prefix (it tells keys apart and is not secret), drop the secret.
    (re.compile(r"\b(ahk_[0-9a-f]{12})_[A-Za-z0-9_-]+"), r"\1_[redacted]"),
    # Stripe secret and restricted keys, webhook signing secrets.
    (re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]+"), "[redacted-stripe-key]"),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]+"), "[redacted-stripe-secret]"),
    # LLM providers' keys (Anthropic sk-ant-..., OpenAI sk-..., sk-proj-...), users' own among them.
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), "[redacted-llm-key]"),
    # Credentials in headers.
    (re.compile(r"\b(Bearer|Api-Key|Basic)\s+(?!\[redacted)[A-Za-z0-9._~+/=-]+", re.IGNORECASE), r"\1 [redacted]"),
    # name=value, name: value and "name": "value" for names that hold secrets.
    (re.compile(
        r"(?i)\b((?:current_|new_|old_)?password[12]?|passwd|secret|api[_-]?key|access_token|refresh_token|refresh"
        rf"|access|token)({_Q}\s*[:=]\s*{_Q})(?!\[redacted|ahk_[0-9a-f]{{12}}_\[redacted\])([^\s\"'&,;}}\]\\]+)"
    ), r"\1\2[redacted]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingJsonFormatter(JsonFormatter):
    def format(self, record) -> str:
        return redact(super().format(record))
