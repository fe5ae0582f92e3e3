"""Words, stems and sentences for the summariser and the search agent (English)."""

import re
import threading
from functools import lru_cache

try:  # In requirements.txt; the fallback keeps the agents importable without it.
    import snowballstemmer
except ImportError:  # pragma: no cover
    snowballstemmer = None

STOPWORDS = frozenset(
    """
    a about above after again against all almost also although always am among an and another any anyone
    anything are around as at be became because become been before being below between both but by can
    cannot could did do does doing done down during each either else enough even ever every few for from
    further get gets got had has have having he her here hers herself him himself his how however i if in
    into is it its itself just least less let like made make many may me might more most much must my
    myself neither no nor not now of off often on once one only onto or other others otherwise our ours
    ourselves out over own per perhaps quite rather really same say says several shall she should since so
    some such than that the their theirs them themselves then there therefore these they this those though
    through thus to too toward towards under until up upon us use used uses using very via was we well were
    what whatever when where whether which while who whom whose why will with within without would yet you
    your yours yourself yourselves
    """.split()
)

WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")

_local = threading.local()


def _stemmer():
    # Snowball stemmer objects keep state between calls: one per thread.
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None and snowballstemmer is not None:
        stemmer = _local.stemmer = snowballstemmer.stemmer("english")
    return stemmer


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    stemmer = _stemmer()
    if stemmer is not None:
        return stemmer.stemWord(word)
    for suffix in ("ational", "ization", "fulness", "ousness", "iveness", "ingly", "ments", "ation", "ness",
                   "ment", "ing", "ies", "ied", "ed", "ly", "es", "s"):  # pragma: no cover
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word  # pragma: no cover


def words(text: str) -> list[str]:
    """Every word of `text`, in order, as written."""
    return WORD_RE.findall(text)


def terms(text: str) -> list[str]:
    """The content words of `text` as stems: lowercased, stopwords and one-letter words dropped."""
    out = []
    for word in WORD_RE.findall(text):
        lower = word.lower().replace("’", "'")
        if lower.endswith("'s"):
            lower = lower[:-2]
        if len(lower) < 2 or lower in STOPWORDS or lower.isdigit():
            continue
        out.append(stem(lower))
    return out


# Words that end with a full stop without ending the sentence.
ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sr jr st vs etc e.g i.e cf inc ltd co corp fig figs no nos vol approx dept est
    jan feb mar apr jun jul aug sep sept oct nov dec mt ft gen col lt sgt rev u.s u.k a.m p.m ph.d
    """.split()
)

# A run of terminal punctuation, closing quotes or brackets, then whitespace.
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*\s+")
_PARAGRAPH = re.compile(r"\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)")


def sentences(text: str) -> list[str]:
    """Split `text` into sentences: terminal punctuation followed by a capital, a digit or a quote,
    except after a known abbreviation or an initial; blank lines and list items always split."""
    out = []
    for block in _PARAGRAPH.split(text):
        block = " ".join(block.split())
        start = 0
        for match in _BOUNDARY.finditer(block):
            end = match.end()
            if end >= len(block):
                break
            following = block[end]
            if not (following.isupper() or following.isdigit() or following in "\"'“‘(["):
                continue
            before = block[start : match.start() + 1].split()
            last = before[-1].lower().rstrip(".") if before else ""
            if block[match.start()] == "." and (last in ABBREVIATIONS or (len(last) == 1 and last.isalpha())):
                continue
            sentence = block[start:end].strip()
            if sentence:
                out.append(sentence)
            start = end
        tail = block[start:].strip()
        if tail:
            out.append(tail)
    return out
