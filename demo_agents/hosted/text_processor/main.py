"""Text Processor Agent (seed 002): counts and case changes.

    {"text": "Hello World", "operation": "analyze"}
    -> {"operation": "analyze", "word_count": 2, "character_count": 11, "sentence_count": 1, ...}

Operations: analyze (the default: words, characters, sentences, lines, average word length and
the most frequent words, as many as the hiring's `top_words`, default 10), uppercase, lowercase
and title, which answer with `result`.
"""

import re
from collections import Counter

OPERATIONS = ("analyze", "uppercase", "lowercase", "title")
MAX_TEXT = 1_000_000
DEFAULT_TOP_WORDS = 10
WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")


class TextProcessorAgent:
    def __init__(self, config=None):
        config = config or {}
        top_words = config.get("top_words", DEFAULT_TOP_WORDS)
        if isinstance(top_words, bool) or not isinstance(top_words, int) or not 1 <= top_words <= 50:
            raise ValueError("'top_words' must be a whole number from 1 to 50.")
        self.top_words = top_words

    def execute(self, input):
        if not isinstance(input, dict):
            raise ValueError('The input must be an object like {"text": "Hello World", "operation": "analyze"}.')
        text = input.get("text")
        if not isinstance(text, str):
            raise ValueError("'text' is required and must be a string.")
        if len(text) > MAX_TEXT:
            raise ValueError(f"'text' is longer than {MAX_TEXT} characters.")
        operation = input.get("operation", "analyze")
        if operation not in OPERATIONS:
            raise ValueError(f"'operation' must be one of {', '.join(OPERATIONS)}; got {operation!r}.")
        if operation == "analyze":
            return {"operation": operation, **self.analyze(text), "agent_type": "text_processor"}
        changed = {"uppercase": text.upper, "lowercase": text.lower, "title": text.title}[operation]()
        return {"operation": operation, "original_text": text, "result": changed, "agent_type": "text_processor"}

    def analyze(self, text):
        words = text.split()
        tokens = [word.lower() for word in WORD.findall(text)]
        stripped = text.strip()
        sentences = len(SENTENCE_END.findall(stripped))
        if stripped and not SENTENCE_END.search(stripped[-1:] + " "):
            sentences += 1  # a last sentence without a full stop still counts
        top = Counter(tokens).most_common(self.top_words)
        return {
            "word_count": len(words),
            "character_count": len(text),
            "character_count_no_spaces": sum(1 for character in text if not character.isspace()),
            "sentence_count": sentences,
            "line_count": len(text.splitlines()),
            "average_word_length": round(sum(map(len, tokens)) / len(tokens), 2) if tokens else 0,
            "top_words": [{"word": word, "count": count} for word, count in top],
        }
