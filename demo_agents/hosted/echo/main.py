"""Echo Agent (seed 002): the message back, behind a prefix.

    {"message": "Hello World!", "prefix": "Echo: "}
    -> {"response": "Echo: Hello World!", "original_message": "Hello World!",
        "timestamp": "2024-01-01T12:00:00Z", "agent_type": "echo"}

The prefix comes from the input, else from the hiring's config, else "Echo: ". A bare string
as input is the message.
"""

from datetime import UTC, datetime

DEFAULT_PREFIX = "Echo: "
MAX_MESSAGE = 100_000


def main(input, config=None):
    config = config or {}
    if isinstance(input, str):
        input = {"message": input}
    if not isinstance(input, dict):
        raise ValueError("The input must be an object like {\"message\": \"Hello\"}.")
    message = input.get("message")
    if not isinstance(message, str):
        raise ValueError("'message' is required and must be a string.")
    if len(message) > MAX_MESSAGE:
        raise ValueError(f"'message' is longer than {MAX_MESSAGE} characters.")
    prefix = input.get("prefix", config.get("prefix", DEFAULT_PREFIX))
    if not isinstance(prefix, str):
        raise ValueError("'prefix' must be a string.")
    return {
        "response": f"{prefix}{message}",
        "original_message": message,
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "agent_type": "echo",
    }
