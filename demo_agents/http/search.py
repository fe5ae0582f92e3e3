"""Ranked retrieval over the bundled collection (`data/documents.json`) with Okapi BM25.

Titles count twice (a light BM25F), words are stemmed and stopwords dropped, and each hit comes
with the window of its text that holds the most query words as its snippet.
"""

import json
import math
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from demo_agents.http.textutil import terms, words

K1 = 1.5
B = 0.75
TITLE_WEIGHT = 2
SNIPPET_WORDS = 30


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    url: str
    topic: str
    text: str


class Index:
    def __init__(self, documents: list[Document]):
        self.documents = documents
        self.frequencies: list[Counter[str]] = []
        self.lengths: list[int] = []
        df: Counter[str] = Counter()
        for doc in documents:
            bag = terms(doc.text) + terms(doc.title) * TITLE_WEIGHT
            counts = Counter(bag)
            self.frequencies.append(counts)
            self.lengths.append(len(bag))
            df.update(counts.keys())
        n = len(documents)
        self.average_length = sum(self.lengths) / n if n else 0.0
        # The BM25+ style idf: never negative, so a word in most documents still counts a little.
        self.idf = {term: math.log(1 + (n - count + 0.5) / (count + 0.5)) for term, count in df.items()}

    def search(self, query: str, *, limit: int = 5, topic: str | None = None) -> tuple[list[dict], int, list[str]]:
        """The best `limit` hits, how many documents matched at all, and the query terms used."""
        query_terms = list(dict.fromkeys(terms(query)))
        scored = []
        for i, doc in enumerate(self.documents):
            if topic and doc.topic != topic:
                continue
            counts, length = self.frequencies[i], self.lengths[i]
            score = 0.0
            for term in query_terms:
                tf = counts.get(term, 0)
                if tf:
                    norm = K1 * (1 - B + B * length / self.average_length)
                    score += self.idf[term] * tf * (K1 + 1) / (tf + norm)
            if score > 0:
                scored.append((score, i))
        scored.sort(key=lambda pair: (-pair[0], self.documents[pair[1]].id))
        hits = []
        for rank, (score, i) in enumerate(scored[:limit], start=1):
            doc = self.documents[i]
            snippet, matched = _snippet(doc.text, set(query_terms))
            hits.append({
                "rank": rank,
                "id": doc.id,
                "title": doc.title,
                "url": doc.url,
                "topic": doc.topic,
                "score": round(score, 4),
                "snippet": snippet,
                "matchedTerms": matched,
            })
        return hits, len(scored), query_terms


def _snippet(text: str, query_terms: set[str]) -> tuple[str, list[str]]:
    tokens = text.split()
    hits = [bool(set(terms(token)) & query_terms) for token in tokens]
    best_start, best = 0, -1
    window = min(SNIPPET_WORDS, len(tokens))
    current = sum(hits[:window])
    for start in range(0, len(tokens) - window + 1):
        if start:
            current += hits[start + window - 1] - hits[start - 1]
        if current > best:
            best, best_start = current, start
    piece = " ".join(tokens[best_start : best_start + window])
    snippet = ("…" if best_start else "") + piece + ("…" if best_start + window < len(tokens) else "")
    matched = sorted({w.lower() for w, hit in zip(tokens, hits, strict=True) if hit for w in words(w)})
    return snippet, matched


@cache
def index() -> Index:
    with open(Path(__file__).parent / "data" / "documents.json", encoding="utf-8") as f:
        data = json.load(f)
    return Index([Document(d["id"], d["title"], d["url"], d["topic"], d["text"]) for d in data["documents"]])


def topics() -> list[str]:
    return sorted({doc.topic for doc in index().documents})
