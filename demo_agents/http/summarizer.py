"""An extractive summariser: TextRank over sentences, word frequency for long texts.

Deterministic: the same text and options always give the same summary. Sentences keep their
original order in the summary; ties in score go to the earlier sentence.
"""

import math
from collections import Counter
from dataclasses import dataclass

from demo_agents.http.textutil import sentences, terms, words

# TextRank compares every pair of sentences; past this many the word-frequency score is used.
TEXTRANK_LIMIT = 200
DAMPING = 0.85
DEFAULT_RATIO = 0.3
DEFAULT_MAX_SENTENCES = 5


@dataclass(frozen=True)
class Summary:
    summary: str
    selected: list[tuple[int, str, float]]  # (index in the text, sentence, score)
    keywords: list[str]
    sentence_count: int
    word_count: int
    method: str

    def as_result(self) -> dict:
        summary_words = len(words(self.summary))
        return {
            "summary": self.summary,
            "keyPoints": [text for _, text, _ in self.selected],
            "sentences": [{"index": i, "text": text, "score": round(score, 4)} for i, text, score in self.selected],
            "keywords": self.keywords,
            "sentenceCount": self.sentence_count,
            "selectedCount": len(self.selected),
            "wordCount": self.word_count,
            "summaryWordCount": summary_words,
            "compressionRatio": round(summary_words / self.word_count, 4) if self.word_count else 1.0,
            "method": self.method,
        }


def summarize(
    text: str, *, max_sentences: int | None = None, ratio: float | None = None, max_words: int | None = None
) -> Summary:
    """Pick the most central sentences of `text`.

    How many: `max_sentences` and/or `ratio` of the sentences (at least one); with neither, 30% of
    the sentences and at most five. `max_words` then drops the lowest-ranked picks until the summary
    fits (the best sentence always stays).
    """
    parts = sentences(text)
    bags = [terms(part) for part in parts]
    n = len(parts)
    if n <= 1:
        scores, method = [1.0] * n, "single"
    elif n <= TEXTRANK_LIMIT:
        scores, method = _textrank(bags), "textrank"
    else:
        scores, method = _frequency(bags), "frequency"

    if max_sentences is None and ratio is None:
        count = min(DEFAULT_MAX_SENTENCES, math.ceil(n * DEFAULT_RATIO))
    else:
        count = n
        if ratio is not None:
            count = min(count, math.ceil(n * ratio))
        if max_sentences is not None:
            count = min(count, max_sentences)
    count = max(1, count) if n else 0

    ranked = sorted(range(n), key=lambda i: (-scores[i], i))[:count]
    if max_words is not None and ranked:
        kept, used = [], 0
        for i in ranked:
            size = len(words(parts[i]))
            if kept and used + size > max_words:
                continue
            kept.append(i)
            used += size
        ranked = kept
    chosen = sorted(ranked)
    return Summary(
        summary=" ".join(parts[i] for i in chosen),
        selected=[(i, parts[i], scores[i]) for i in chosen],
        keywords=_keywords(text),
        sentence_count=n,
        word_count=len(words(text)),
        method=method,
    )


def _textrank(bags: list[list[str]]) -> list[float]:
    """PageRank over the sentence graph weighted by shared content words (Mihalcea & Tarau, 2004),
    normalised by sentence length so long sentences do not win by size alone."""
    n = len(bags)
    sets = [set(bag) for bag in bags]
    norms = [math.log(len(bag) + 1) for bag in bags]
    weights = [[0.0] * n for _ in range(n)]
    for i in range(n):
        if not sets[i]:
            continue
        for j in range(i + 1, n):
            shared = len(sets[i] & sets[j])
            if shared:
                weights[i][j] = weights[j][i] = shared / (norms[i] + norms[j])
    out_sums = [sum(row) for row in weights]
    # Who passes rank to i, and what share of their rank: computed once, reused every iteration.
    incoming = [[(j, weights[j][i] / out_sums[j]) for j in range(n) if weights[j][i]] for i in range(n)]
    dangling_nodes = [j for j in range(n) if not out_sums[j]]
    scores = [1.0 / n] * n
    for _ in range(100):
        # Sentences that share nothing leak their rank: spread it evenly so the scores keep summing to 1.
        base = (1 - DAMPING) / n + DAMPING * sum(scores[j] for j in dangling_nodes) / n
        new = [base + DAMPING * sum(share * scores[j] for j, share in edges) for edges in incoming]
        done = max(abs(a - b) for a, b in zip(new, scores, strict=True)) < 1e-8
        scores = new
        if done:
            break
    # A small tie-break towards sentences with more distinct content words.
    return [score * (1 + 0.01 * len(sets[i])) for i, score in enumerate(scores)]


def _frequency(bags: list[list[str]]) -> list[float]:
    """Average normalised frequency of a sentence's content words (Luhn-style)."""
    counts = Counter(term for bag in bags for term in bag)
    top = max(counts.values(), default=1)
    return [sum(counts[t] / top for t in bag) / math.sqrt(len(bag)) if bag else 0.0 for bag in bags]


def _keywords(text: str, limit: int = 8) -> list[str]:
    """The most frequent content words, each shown in its most common written form."""
    counts: Counter[str] = Counter()
    forms: dict[str, Counter[str]] = {}
    for word in words(text):
        bag = terms(word)
        if not bag:
            continue
        counts[bag[0]] += 1
        forms.setdefault(bag[0], Counter())[word.lower()] += 1
    ranked = sorted(counts, key=lambda t: (-counts[t], t))[:limit]
    return [min(forms[t], key=lambda w: (-forms[t][w], w)) for t in ranked]
