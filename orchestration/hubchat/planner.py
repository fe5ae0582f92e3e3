"""The built-in planner: a request in words to a `Plan`, deterministically, with no network and no LLM.

**The vocabulary.** `SkillVocabulary` knows, for every skill that some listed agent declares, the
phrases that ask for it: the skill's own name and its word forms ("summarization" → summarize,
summarise, summarized, summarizing...; "sql-generation" → "sql generation", "generate sql"), a
built-in table of synonyms for common skills (`SYNONYMS`: "sum up", "tl;dr", "look up", "work out"...)
and the listed agents' names ("Summarizer Agent" → summarizer; a name asks for its agent's first
skill). Only skills a listed agent declares are offered: a synonym of a skill no agent has is not
understood. When two sources claim one phrase, the skill's own name wins over an explicit phrase,
which wins over a synonym, which wins over an agent's name.

`SkillVocabulary.from_catalog()` reads the catalog with two queries (the skills with how many listed
agents declare them, grouped in the database; the listed agents' names and skills as plain values)
and is cached: in the shared cache (Redis in production) under the catalog version, which moves
whenever an agent is saved or deleted (`marketplace.signals`), and in the process for as long as
that version holds. Bulk writes send no signal, so an entry also expires `VOCABULARY_TTL_SECONDS`
(setting `HUBCHAT_VOCABULARY_TTL_SECONDS`) after it was built. `from_catalog(refresh=True)`
rebuilds at once. `descriptions()` gives each skill a line (agents, example phrases) for an LLM
planner's prompt.

**Planning** (`builtin_plan`):

1. The text to work on is set apart first: quoted text ("...", “...”, '...', «...»), the text after a
   colon that follows a request ("Summarise this: <text>"), after a first sentence that asks and
   points ("Summarise this article. <text>"), or the lines after (or before) a one-line request.
   Only the request is read for intent, and at most `INTENT_SCAN_CHARS` of it; the text itself is
   passed on whole, however long. A longer request with nothing set apart is read as one
   instruction (its first sentence) followed by its text.
2. The request is cut into clauses at "and", ",", sentence ends (weak), and at "then", "and then",
   "after that", "also", ";" (strong). A part with no skill in it is glued back where it belongs:
   more languages ("...into French and German") or more text ("search for salt and pepper") join
   the clause before; a part that starts with a request we do not know ("paint a picture"), or any
   unknown part after a strong separator, is reported in `Plan.unknown`.
3. Each clause's first skill phrase (within its first `INTENT_WINDOW` words) names its skill; what
   follows is its object: quoted text, its own words ("translate hello world into Spanish"),
   the set-apart text ("this", "the article"), or an earlier step's output.
4. A later clause is **chained** (`depends_on` the earlier clause's subtasks) when it refers to an
   output ("it", "that", "them", "the results", "the summary" — the latest clause with that kind
   of output), when it has no object of its own ("...then summarise"), or when it follows a bare
   verb ("summarise and translate this"). A clause with its own object runs in **parallel**.
5. Several targets make several subtasks with no dependency between them: "into French and
   German", "'a' and 'b'". "Summarise this in Spanish" adds a translation chained to the summary.

Inputs follow the demo agents (demo_agents/http/README.md): summarization `{"text"}`, translation
`{"text", "targetLanguage"}` (English when no language is named), search and the other query skills
`{"query"}`, echo `{"message"}`, calculation `{"text", "operation"?, "numbers"?}`, anything else
`{"text"}`. A chained subtask has no text (or query): `services.handoff` fills it at run time.
When a request names no text at all ("summarise it"), the whole request is the text, with a note.

**required_skills** (a caller such as `POST /api/tasks` names them): exactly those skills, in that
order, as a chain (each step works on the previous step's output), because naming skills in order
describes a pipeline. The first step works on the set-apart text, else the whole request; details
the request spells out for a skill (a target language, a search query) are kept. A named skill
no listed agent offers is reported in `unknown` and left out.

At most `plan.MAX_SUBTASKS` subtasks; the rest are dropped with a note.
"""

import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models.fields.json import KT

from orchestration.hubchat.plan import MAX_SUBTASKS, Plan, Subtask

INTENT_SCAN_CHARS = 2_000  # how much of the request (not of the text) is read for intent
INTENT_WINDOW = 10  # a clause's skill phrase must start within its first words
VOCABULARY_TTL_SECONDS = 60  # bulk catalog writes send no signal: the longest a stale vocabulary lives
VOCABULARY_FORMAT = 1  # part of the cache key: bump when the cached object's shape changes
MAX_QUOTES = 4 * MAX_SUBTASKS  # quoted texts read in one request
UNKNOWN_CHARS = 200  # how much of a part not understood is quoted back

# --- Words -----------------------------------------------------------------------------------------

# Each row: the skills a family of phrases may mean, best first (the first one a listed agent declares
# wins), and the phrases. Phrases are matched word by word after `_norm` (lower case, -ise → -ize).
SYNONYMS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("summarization", "summarisation", "summary", "text_summarization", "summarize"), (
        "summarize", "summarizes", "summarized", "summarizing", "summary", "summaries", "summarization",
        "summarizer", "sum up", "sums up", "summing up", "tldr", "tl dr", "recap", "condense", "boil down",
        "key points", "main points", "gist", "shorten", "digest")),
    (("translation", "translate", "machine_translation", "language_translation"), (
        "translate", "translates", "translated", "translating", "translation", "translations", "translator")),
    (("search", "web_search", "web-search", "research", "information_retrieval", "retrieval", "web-browsing",
      "web_browsing"), (
        "search", "search for", "searches", "searching", "search the web", "web search", "look up", "lookup",
        "look for", "find", "find me", "google", "search engine")),
    (("research", "search", "information_retrieval", "web_search", "retrieval"), (
        "research", "researches", "researching", "investigate", "find out", "find out about", "dig into",
        "look into")),
    (("sentiment_analysis", "sentiment", "sentiment-analysis", "emotion_detection"), (
        "sentiment", "sentiment analysis", "analyze the sentiment", "how positive", "how negative",
        "positive or negative", "tone", "mood")),
    (("classification", "categorization", "text_classification", "labeling", "tagging"), (
        "classify", "classifies", "classified", "classifying", "classification", "categorize", "categorizes",
        "categorized", "categorization", "which category", "sort into")),
    (("extraction", "entity_extraction", "information_extraction", "data_extraction", "ner"), (
        "extract", "extracts", "extracted", "extracting", "extraction", "pull out", "named entities",
        "entities")),
    (("calculation", "math", "mathematics", "arithmetic", "calculator", "computation"), (
        "calculate", "calculates", "calculation", "compute", "computes", "work out", "math", "maths",
        "arithmetic", "add up", "how much is", "sum of", "average of", "multiply", "divide", "subtract",
        "plus", "minus", "multiplied by", "divided by")),
    (("code-generation", "code_generation", "coding", "code", "programming", "software_development"), (
        "write code", "write a function", "write a script", "write a program", "generate code", "code",
        "coding", "programming", "implement", "debug", "refactor")),
    (("code-review", "code_review", "critique", "review"), (
        "review my code", "review the code", "review this code", "code review")),
    (("sql-generation", "sql_generation", "sql", "text_to_sql"), (
        "sql", "sql query", "write sql", "generate sql", "write a query")),
    (("echo",), ("echo", "echoes", "repeat", "repeat back", "say back", "parrot")),
    (("text_processing", "word_count", "text-processing", "text_analysis"), (
        "word count", "count the words", "count words", "how many words", "character count",
        "count the characters", "uppercase", "lowercase", "upper case", "lower case", "title case",
        "text statistics")),
    (("language_detection", "language-detection", "language"), (
        "detect the language", "detect language", "which language", "what language", "identify the language",
        "language detection")),
    (("writing", "content_generation", "copywriting", "text_generation", "content-writing"), (
        "write", "draft", "compose", "rewrite", "copywriting", "write a blog post")),
    (("email", "email_drafting"), ("write an email", "draft an email", "send an email", "email")),
    (("question_answering", "qa"), ("answer the question", "answer this question", "answer")),
    (("planning",), ("plan", "make a plan", "create a plan", "plan out")),
    (("scheduling",), ("schedule", "book a meeting", "set up a meeting")),
    (("reasoning",), ("reason about", "think through", "figure out")),
    (("critique", "review", "feedback"), ("critique", "criticize", "give feedback", "feedback on", "review")),
    (("negotiation",), ("negotiate", "haggle")),
    (("web-browsing", "web_browsing", "browsing"), ("browse", "visit the page", "open the website")),
    (("memory",), ("remember", "memorize")),
    (("proofreading", "grammar", "grammar_correction", "editing"), (
        "proofread", "fix the grammar", "check the grammar", "correct the spelling", "spell check", "spellcheck")),
    (("image_generation", "image-generation"), (
        "draw", "paint", "generate an image", "create an image", "make an image", "illustrate")),
    (("transcription", "speech_to_text"), ("transcribe", "transcription")),
    (("data_analysis", "data-analysis", "analytics"), ("data analysis", "analyze the data", "analyze this data")),
)

LANGUAGES = {
    "english": "en", "spanish": "es", "castilian": "es", "espanol": "es", "español": "es", "french": "fr",
    "francais": "fr", "français": "fr", "german": "de", "deutsch": "de", "italian": "it", "portuguese": "pt",
    "dutch": "nl", "russian": "ru", "chinese": "zh", "mandarin": "zh", "japanese": "ja", "korean": "ko",
    "arabic": "ar", "hindi": "hi", "polish": "pl", "swedish": "sv", "turkish": "tr", "greek": "el",
}
# ISO codes are read only right after "into", "to", "in" or "from": "it", "no", "hi" are words too.
LANGUAGE_CODES = frozenset({"en", "es", "fr", "de", "pt", "nl", "ru", "ja", "zh", "ko", "pl", "sv"})
LANGUAGE_NAMES = {"en": "English", "es": "Spanish", "fr": "French", "de": "German", "it": "Italian",
                  "pt": "Portuguese", "nl": "Dutch", "ru": "Russian", "zh": "Chinese", "ja": "Japanese",
                  "ko": "Korean", "ar": "Arabic", "hi": "Hindi", "pl": "Polish", "sv": "Swedish", "tr": "Turkish",
                  "el": "Greek"}
DEFAULT_TARGET_LANGUAGE = "en"
TARGET_PREPOSITIONS = frozenset({"into", "to", "in"})

STRONG_WORDS = frozenset({"then", "also", "afterwards", "afterward", "finally", "lastly", "subsequently"})
# Words that point at an earlier step's output ("translate it", "summarise the results").
OUTPUT_REFERENCES = frozenset({
    "it", "that", "them", "those", "they", "result", "results", "output", "outputs", "answer", "answers",
    "findings", "previous", "summary", "summaries", "translation", "translations", "translated", "articles",
    "sources", "hits", "find", "found", "got", "returned", "what", "you", "best", "top", "article",
})
# Nouns that name an earlier output even inside a longer object ("summarise the top result").
OUTPUT_NOUNS = frozenset({"result", "results", "output", "outputs", "answer", "answers", "findings", "summary",
                          "summaries", "translation", "translations", "hits"})
# What an output reference names, by family: "the summary" → the latest summarization step.
REFERENCE_FAMILIES = {"summary": "summarization", "summaries": "summarization", "translation": "translation",
                      "translations": "translation", "translated": "translation", "results": "search",
                      "findings": "search", "articles": "search", "sources": "search", "hits": "search",
                      "find": "search", "found": "search"}
# Words that point at the set-apart text, or say nothing about an object ("the following article").
DEICTIC = frozenset({
    "this", "these", "here", "following", "below", "above", "text", "article", "articles", "document", "doc",
    "paragraph", "paragraphs", "passage", "content", "page", "email", "message", "story", "report", "essay",
    "post", "note", "notes", "sentence", "sentences", "words", "phrase", "piece", "one", "attached", "given",
    "the", "a", "an", "of", "my", "our", "your", "me", "us", "for", "please", "short", "brief", "quick",
    "quickly", "full", "whole", "entire", "input", "same", "too", "as", "well", "now", "all", "both", "with",
    "and", "in", "on", "up", "again",
})
# The last word of a first sentence that points at the text after it ("Summarise this article. <text>").
POINTERS = frozenset({
    "this", "these", "following", "below", "text", "article", "document", "paragraph", "passage", "content",
    "page", "email", "message", "story", "report", "essay", "post", "note", "notes", "transcript",
})
DETERMINERS = frozenset({"the", "this", "that", "its", "your", "my", "our", "their", "these", "those"})
LEADING_FILLERS = frozenset({"for", "about", "on", "up", "me", "us", "please", "of", "regarding", "to"})
TRAILING_FILLERS = frozenset({"please", "for", "me", "us", "now", "thanks", "thank", "you"})
# Parts with no skill made only of these words join the next clause ("then take the results and ...").
GLUE = DEICTIC | OUTPUT_REFERENCES | frozenset({
    "take", "use", "get", "grab", "then", "ok", "okay", "thanks", "thank", "you", "just", "and", "or", "so",
    "can", "could", "would", "will", "i", "want", "need", "like", "d", "to", "it",
})
POLITENESS = frozenset({
    "please", "can", "could", "would", "will", "you", "kindly", "i", "i'd", "d", "want", "need", "like", "to",
    "now", "also", "then", "just", "and", "we", "let's", "lets", "us", "me", "go", "ahead", "hey", "hi",
})
# A part with no skill that starts with one of these asks for something we cannot do.
REQUEST_VERBS = frozenset({
    "add", "analyze", "answer", "bake", "book", "build", "buy", "calculate", "call", "change", "check", "classify",
    "compare", "compose", "compute", "convert", "cook", "correct", "count", "create", "delete", "describe",
    "design", "detect", "download", "draft", "draw", "edit", "email", "explain", "extract", "find", "fix",
    "format", "generate", "get", "give", "identify", "list", "make", "open", "order", "paint", "play", "post",
    "predict", "print", "proofread", "read", "recommend", "remind", "remove", "rewrite", "run", "schedule", "send",
    "set", "show", "sing", "sort", "tell", "transcribe", "turn", "upload", "write",
})
NAME_NOISE = frozenset({"agent", "agents", "bot", "the", "a", "an", "ai"})
# A one-word agent name that is one of these would catch ordinary requests: it is not a phrase.
NAME_STOPWORDS = GLUE | POLITENESS | REQUEST_VERBS | DEICTIC | STRONG_WORDS | frozenset(LANGUAGES)

# How each kind of skill takes its input, recognised by a fragment of the skill's name.
FAMILY_HINTS = (
    ("translation", ("translat",)),
    ("summarization", ("summar",)),
    ("search", ("search", "retriev", "brows", "lookup")),
    ("echo", ("echo",)),
    ("calculation", ("calcul", "math", "arithmetic", "comput")),
    ("text_processing", ("text_processing", "text-processing", "word_count")),
)
CALCULATIONS = {"add": "add", "sum": "add", "plus": "add", "total": "add", "subtract": "subtract",
                "minus": "subtract", "difference": "subtract", "multiply": "multiply", "multiplied": "multiply",
                "times": "multiply", "product": "multiply", "divide": "divide", "divided": "divide",
                "quotient": "divide", "average": "average", "mean": "average"}
CALCULATION_SYMBOLS = {"+": "add", "*": "multiply", "×": "multiply", "/": "divide", "÷": "divide"}
TEXT_OPERATIONS = {"uppercase": "uppercase", "upper": "uppercase", "lowercase": "lowercase", "lower": "lowercase",
                   "title": "title"}

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
# Quoted text; each alternative stops at its closing mark or, for single quotes, the end of the line.
_QUOTE = re.compile(r'"([^"]*)"|“([^”]*)”|«([^»]*)»|„([^“”]*)[“”]|‘([^’]*)’|(?<!\w)\'([^\'\n]*)\'(?!\w)')
_QUOTE_MARK = re.compile("[\"“«„‘']")
_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")
# A placeholder for quoted text; words; "," and ";"; sentence ends (".", "!", "?" before a space).
_TOKEN = re.compile(r"\ue000(\d+)\ue001|([^\W_]+(?:['’][^\W_]+)*)|([,;])|([.!?]+)(?=\s|$)")
_FIRST_STOP = re.compile(r"[.!?]+(?:\s+|$)")
_TLDR = re.compile(r"\btl\s*;\s*dr\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]*\w)")
_BRITISH = re.compile(r"(?<=[a-z]{3})(is|ys)(e|es|ed|ing|er|ers|ation|ations)$")


@lru_cache(maxsize=65_536)
def _norm(word: str) -> str:
    """Lower case, one apostrophe, American -ize/-yze spelling: summarise → summarize, analyse → analyze."""
    word = word.lower().replace("’", "'")
    return _BRITISH.sub(lambda m: ("iz" if m.group(1) == "is" else "yz") + m.group(2), word)


def _words(text: str) -> tuple[str, ...]:
    return tuple(_norm(word) for word in _WORD.findall(_TLDR.sub("tldr", text)))


def _family(skill: str) -> str:
    name = skill.lower()
    for family, fragments in FAMILY_HINTS:
        if any(fragment in name for fragment in fragments):
            return family
    return name


# --- Word forms of a skill's name ---------------------------------------------------------------


def _inflect(verb: str) -> set[str]:
    forms = {verb}
    if verb.endswith("e"):
        forms |= {verb + "s", verb + "d", verb[:-1] + "ing"}
    elif verb.endswith("y") and len(verb) > 2 and verb[-2] not in "aeiou":
        forms |= {verb[:-1] + "ies", verb[:-1] + "ied", verb + "ing"}
    elif verb.endswith(("s", "sh", "ch", "x", "z")):
        forms |= {verb + "es", verb + "ed", verb + "ing"}
    else:
        forms |= {verb + "s", verb + "ed", verb + "ing"}
    return forms


def _verbs(noun: str) -> list[str]:
    """The verbs behind an action noun, likeliest first: summarization → summarize, classification → classify."""
    rules = (("ization", ("ize",)), ("ification", ("ify",)), ("ation", ("ate", "", "e")), ("ction", ("ct",)),
             ("ysis", ("yze",)), ("ing", ("", "e")), ("ment", ("",)), ("al", ("e",)))
    for suffix, replacements in rules:
        if noun.endswith(suffix) and len(noun) > len(suffix) + 2:
            stem = noun[: -len(suffix)]
            verbs = [stem + replacement for replacement in replacements]
            if suffix == "ing" and len(stem) > 2 and stem[-1] == stem[-2]:
                verbs.insert(0, stem[:-1])  # planning → plan
            return [verb for verb in verbs if len(verb) >= 3]
    return [noun]  # search, research, echo, code: the noun is the verb


def _skill_phrases(skill: str) -> list[tuple[str, ...]]:
    """The skill's own name and its word forms, the name first: "sql-generation" → sql generation,
    generate sql, generates sql, ... Unlikely forms ("transl" from "translation") are harmless: no one types them."""
    words = tuple(_norm(word) for word in re.split(r"[\s_\-./]+", skill) if word)
    if not words:
        return []
    *objects, head = words
    phrases = [words]
    for verb in _verbs(head):
        for form in sorted(_inflect(verb), key=lambda f: (f != verb, f)):
            phrases += [(form, *objects), (form, "the", *objects)] if objects else [(form,)]
    if not objects:
        phrases += [(plural,) for plural in _inflect(head) if plural.endswith("s")]
    return list(dict.fromkeys(phrases))


def _name_phrase(name: str) -> tuple[str, ...] | None:
    """An agent's name as a phrase: "Summarizer Agent" → summarizer. None when it would catch plain words."""
    if "(" in name:
        name = re.sub(r"\([^)]*\)", " ", name)
    words = tuple(_norm(word) for word in _WORD.findall(name))
    words = tuple(word for word in words if word not in NAME_NOISE)
    if not words or len(words) > 8:
        return None
    if len(words) == 1 and (len(words[0]) < 4 or words[0] in NAME_STOPWORDS):
        return None
    return words


# --- The vocabulary ------------------------------------------------------------------------------------

_memo: tuple[str, "SkillVocabulary"] | None = None  # this process's copy of the shared cache entry


class SkillVocabulary:
    """The skills listed agents offer and the phrases that ask for each. Plain data: it pickles."""

    def __init__(self, *, skills: Mapping[str, int], phrases: Mapping[tuple[str, ...], str], built_at: float = 0.0,
                 examples: Mapping[str, Iterable[str]] | None = None):
        self.skills: dict[str, int] = dict(skills)  # skill → how many listed agents declare it
        self.phrases: dict[tuple[str, ...], str] = dict(phrases)
        self.examples = {skill: list(dict.fromkeys(said)) for skill, said in (examples or {}).items()}
        lengths: dict[str, set[int]] = {}
        for phrase in self.phrases:
            lengths.setdefault(phrase[0], set()).add(len(phrase))
        # First word → the phrase lengths starting with it, longest first: a match is one dict lookup per length.
        self.lengths: dict[str, tuple[int, ...]] = {word: tuple(sorted(n, reverse=True)) for word, n in lengths.items()}
        self.built_at = built_at
        self._by_lower = {skill.lower(): skill for skill in sorted(self.skills)}

    def __contains__(self, skill: str) -> bool:
        return skill in self.skills

    def __len__(self) -> int:
        return len(self.skills)

    def __repr__(self) -> str:
        return f"<SkillVocabulary {len(self.skills)} skills, {len(self.phrases)} phrases>"

    # -- building

    @classmethod
    def from_phrases(cls, phrases: Mapping[str, Iterable[str]], *, builtin: bool = True,
                     names: Mapping[str, str] | None = None, counts: Mapping[str, int] | None = None,
                     built_at: float = 0.0) -> "SkillVocabulary":
        """Offer exactly the skills in `phrases` (skill → extra phrases that ask for it).

        `builtin`: also the skills' word forms and the built-in synonyms. `names`: agent name → skill.
        """
        counts = counts or {}
        skills = {skill: counts.get(skill, 1) for skill in phrases if isinstance(skill, str) and skill.strip()}
        table: dict[tuple[str, ...], str] = {}
        examples: dict[str, list[str]] = {skill: [] for skill in skills}

        def add(words: tuple[str, ...], skill: str, example: bool = True) -> None:
            if words and table.setdefault(words, skill) == skill and example:
                # one example per word family: "summarize", not also "summarized", "summarizes"
                if not any(words[0] in _inflect(said.split()[0]) for said in examples[skill]):
                    examples[skill].append(" ".join(words))

        if builtin:
            # The most declared spelling first, so "code-generation" and "code_generation" resolve alike.
            for skill in sorted(skills, key=lambda s: (-skills[s], s)):
                for n, phrase in enumerate(_skill_phrases(skill)):
                    add(phrase, skill, example=n < 2)  # the name and its likeliest verb
        for skill in skills:
            for text in phrases[skill] or ():
                add(_words(text), skill)
        if builtin:
            for candidates, synonyms in SYNONYMS:
                skill = next((candidate for candidate in candidates if candidate in skills), None)
                if skill is None:
                    continue  # no listed agent does this: its phrases stay unknown
                for text in synonyms:
                    add(_words(text), skill)
        for name, skill in (names or {}).items():
            if skill in skills and (phrase := _name_phrase(name)):
                add(phrase, skill, example=False)
        return cls(skills=skills, phrases=table, built_at=built_at, examples=examples)

    @classmethod
    def from_catalog(cls, *, refresh: bool = False) -> "SkillVocabulary":
        """The vocabulary of the listed agents, cached (see the module's docstring)."""
        global _memo
        from marketplace.selectors import catalog_version

        ttl = getattr(settings, "HUBCHAT_VOCABULARY_TTL_SECONDS", VOCABULARY_TTL_SECONDS)
        key = f"hubchat:vocabulary:{VOCABULARY_FORMAT}:{catalog_version()}"
        now = time.time()
        if not refresh:
            memo = _memo
            if memo is not None and memo[0] == key and now - memo[1].built_at < ttl:
                return memo[1]
            vocabulary = cache.get(key)
            if isinstance(vocabulary, cls) and now - vocabulary.built_at < ttl:
                _memo = (key, vocabulary)
                return vocabulary
        vocabulary = cls.build_from_catalog()
        cache.set(key, vocabulary, ttl)
        _memo = (key, vocabulary)
        return vocabulary

    @classmethod
    def build_from_catalog(cls) -> "SkillVocabulary":
        """Read the catalog now (no cache): the listed agents' skills, counted, and their names."""
        from marketplace.choices import LISTED_STATUSES
        from marketplace.models import Agent

        listed = Agent.objects.filter(status__in=LISTED_STATUSES, is_public=True)
        counts: Counter[str] = Counter()
        if connection.vendor == "postgresql":
            # One row per distinct skill, counted in the database: a few hundred rows for 10,000 agents.
            table, status_list = Agent._meta.db_table, list(LISTED_STATUSES)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT skill, count(*) FROM {table}, jsonb_array_elements_text("
                    f"  CASE WHEN jsonb_typeof(skills) = 'array' THEN skills ELSE '[]'::jsonb END) AS skill"
                    f" WHERE is_public AND status = ANY(%s) GROUP BY skill",
                    [status_list],
                )
                counts.update({skill: n for skill, n in cursor.fetchall() if skill.strip()})
        else:  # SQLite: count the distinct lists of skills
            for skills, n in _distinct_skill_lists(listed):
                for skill in _skill_list(skills):
                    counts[skill] += n
        # A name asks for its agent's first skill, read as text by the database (no JSON decoding here).
        names: dict[str, str] = {}
        rows = listed.annotate(first_skill=KT("skills__0")).order_by("name", "slug").values_list("name", "first_skill")
        for name, first in rows.iterator(chunk_size=5000):
            if first and first.strip() and name not in names:
                names[name] = first
        return cls.from_phrases(dict.fromkeys(counts, ()), names=names, counts=counts, built_at=time.time())

    # -- reading

    def skill_for(self, text: str) -> str | None:
        """A skill named exactly (any case), or the skill a phrase asks for: "Translate" → translation."""
        if text in self.skills:
            return text
        if found := self._by_lower.get(text.strip().lower()):
            return found
        return self.phrases.get(_words(text))

    def match_at(self, words: list[str], position: int) -> tuple[int, str] | None:
        """The longest phrase starting at `position`: (its length in words, its skill)."""
        for length in self.lengths.get(words[position], ()):
            if position + length <= len(words):
                if skill := self.phrases.get(tuple(words[position:position + length])):
                    return length, skill
        return None

    def descriptions(self) -> dict[str, str]:
        """Skill → a line for an LLM planner's prompt: some phrases that ask for it and how many agents offer it."""
        lines = {}
        for skill in sorted(self.skills):
            said = self.examples.get(skill, [])[:6]
            agents = self.skills[skill]
            lines[skill] = f"{agents} agent{'s' if agents != 1 else ''}" + (f"; e.g. {', '.join(said)}" if said else "")
        return lines


def _distinct_skill_lists(listed) -> list[tuple[object, int]]:
    from django.db.models import Count

    return [(row["skills"], row["n"]) for row in listed.order_by().values("skills").annotate(n=Count("id"))]


def _skill_list(skills) -> list[str]:
    if not isinstance(skills, list):
        return []
    return [skill for skill in skills if isinstance(skill, str) and skill.strip()]


# --- Reading the request ---------------------------------------------------------------------------------


class Token(NamedTuple):
    norm: str  # the word after _norm; "," ";" "."; or the quote's number
    start: int
    end: int
    kind: str  # "w" word, "q" quoted text, "s" separator


class _Request:
    """The request set apart from its text, and tokenised for reading."""

    def __init__(self, query: str, vocabulary: SkillVocabulary):
        self.query = query
        self.quotes: list[tuple[str, str]] = []  # (inner text, the original with its quote marks)
        masked = self._mask_quotes(query)
        self.command, self.payload, self.tail = self._split(masked, vocabulary)
        self.tokens = _tokens(self.command)
        self.words = [token.norm if token.kind == "w" else "" for token in self.tokens]

    def _mask_quotes(self, text: str) -> str:
        # Jump from quote mark to quote mark (a C-speed search) rather than trying _QUOTE's alternatives at
        # every position: a 100,000-character request is masked in well under a millisecond.
        # Only quotes that open in the part read for intent matter, and only a few of them.
        parts, copied, position = [], 0, 0
        while len(self.quotes) < MAX_QUOTES and (found := _QUOTE_MARK.search(text, position, INTENT_SCAN_CHARS)):
            quoted = _QUOTE.match(text, found.start())
            if quoted is None:
                position = found.start() + 1
                continue
            parts += [text[copied:found.start()], self._mask(quoted)]
            copied = position = quoted.end()
        return "".join([*parts, text[copied:]]) if parts else text

    def _mask(self, match: re.Match) -> str:
        inner = next(group for group in match.groups() if group is not None)
        self.quotes.append((inner, match.group(0)))
        return f"\ue000{len(self.quotes) - 1}\ue001"

    def restore(self, text: str) -> str:
        if "\ue000" not in text:
            return text
        return _PLACEHOLDER.sub(lambda m: self.quotes[int(m.group(1))][1], text)

    def _split(self, masked: str, vocabulary: SkillVocabulary) -> tuple[str, str, str]:
        """(the request read for intent, the text set apart, the unread rest of a long request)."""
        first_line_end = masked.find("\n")
        first_line = masked if first_line_end < 0 else masked[:first_line_end]
        # "Summarise this: <text>": the first colon on the first line that follows a request.
        position, tries = 0, 0
        while tries < 5 and (colon := first_line.find(":", position, INTENT_SCAN_CHARS)) >= 0:
            tries += 1
            position = colon + 1
            after = masked[colon + 1:colon + 2]
            if (after == "" or after.isspace()) and _has_intent(masked[:colon], vocabulary):
                return masked[:colon], self.restore(masked[colon + 1:].strip()), ""
        # "Summarise this article. <text>": a first sentence that asks and only points at its object.
        if (stop := _FIRST_STOP.search(first_line, 0, INTENT_SCAN_CHARS)) and stop.end() < len(masked):
            head = masked[:stop.start()]
            words = _words(head)
            if words and words[-1] in POINTERS and _has_intent(head, vocabulary):
                return head, self.restore(masked[stop.end():].strip()), ""
        if first_line_end >= 0:
            if len(first_line) <= INTENT_SCAN_CHARS and _has_intent(first_line, vocabulary):
                return first_line, self.restore(masked[first_line_end + 1:].strip()), ""
            stripped = masked.rstrip()
            last_line_start = stripped.rfind("\n") + 1
            last_line = stripped[last_line_start:]
            if last_line and len(last_line) <= INTENT_SCAN_CHARS and _has_intent(last_line, vocabulary):
                return last_line, self.restore(stripped[:last_line_start].strip()), ""
        if len(masked) <= INTENT_SCAN_CHARS:
            return masked, "", ""
        # A long request with nothing set apart is an instruction and its text: read the first sentence
        # for intent, and hand the rest on as the last clause's text.
        if stop:
            cut = stop.end()
        else:
            cut = masked.rfind(" ", 0, INTENT_SCAN_CHARS)
            cut = cut if cut > 0 else INTENT_SCAN_CHARS
        return masked[:cut], "", self.restore(masked[cut:])


def _tokens(text: str) -> list[Token]:
    tokens = []
    for match in _TOKEN.finditer(text):
        quote, word, punct, stop = match.groups()
        if quote is not None:
            tokens.append(Token(quote, match.start(), match.end(), "q"))
        elif word is not None:
            tokens.append(Token(_norm(word), match.start(), match.end(), "w"))
        else:
            tokens.append(Token(punct or ".", match.start(), match.end(), "s"))
    # "tl;dr" is one word, not a separator
    for i in range(len(tokens) - 2, 0, -1):
        if tokens[i].norm == ";" and tokens[i - 1].norm == "tl" and tokens[i + 1].norm == "dr":
            tokens[i - 1:i + 2] = [Token("tldr", tokens[i - 1].start, tokens[i + 1].end, "w")]
    return tokens


def _has_intent(text: str, vocabulary: SkillVocabulary) -> bool:
    words = list(_words(text[:INTENT_SCAN_CHARS]))
    return any(vocabulary.match_at(words, i) for i in range(len(words)))


def _language(words: list[str], i: int, *, code_ok: bool) -> str | None:
    if i >= len(words):
        return None
    word = words[i]
    if word in LANGUAGES:
        return LANGUAGES[word]
    return word if code_ok and word in LANGUAGE_CODES else None


class _Clause:
    """A run of tokens [start, end) asking for one skill (or not understood, when skill is None)."""

    def __init__(self, start: int, end: int, separator: str, skill: str | None = None, at: int = -1,
                 length: int = 0):
        self.start, self.end, self.separator = start, end, separator
        self.skill, self.at, self.length = skill, at, length
        self.subtasks: list[int] = []  # positions of the subtasks it produced


def _segments(tokens: list[Token], words: list[str]) -> list[tuple[int, int, str]]:
    """Split at separators: [(start, end, the separator before it: "" | "weak" | "stop" | "strong")]."""
    segments, start, pending = [], 0, ""

    def close(end: int, next_start: int, kind: str) -> None:
        nonlocal start, pending
        if end > start:
            segments.append((start, end, pending))
            pending = ""
        pending = "strong" if "strong" in (pending, kind) else (kind or pending)
        start = next_start

    i = 0
    while i < len(tokens):
        token, word = tokens[i], words[i]
        if token.kind == "s":
            close(i, i + 1, {";": "strong", ".": "stop"}.get(token.norm, "weak"))
        elif word in STRONG_WORDS:
            close(i, i + 1, "strong")
        elif word == "after" and i + 1 < len(words) and words[i + 1] in ("that", "which", "this"):
            close(i, i + 2, "strong")
            i += 1
        elif word == "followed" and i + 1 < len(words) and words[i + 1] == "by":
            close(i, i + 2, "strong")
            i += 1
        elif word in ("and", "&"):
            close(i, i + 1, "weak")
        i += 1
    close(len(tokens), len(tokens), "")
    return segments


class _Planner:
    def __init__(self, query: str, vocabulary: SkillVocabulary):
        self.vocabulary = vocabulary
        self.request = _Request(query, vocabulary)
        self.tokens, self.words = self.request.tokens, self.request.words
        self.notes: list[str] = []
        self.unknown: list[str] = []
        self.subtasks: list[Subtask] = []
        self.fallback_used = False

    # -- clauses

    def intent(self, start: int, end: int, earlier: list[_Clause]) -> tuple[int, int, str] | None:
        """The first skill phrase in tokens [start, end) within the window: (index, length, skill)."""
        seen = 0
        for i in range(start, end):
            if self.tokens[i].kind != "w":
                continue
            seen += 1
            if seen > INTENT_WINDOW:
                return None
            found = self.vocabulary.match_at(self.words, i)
            if found is None or i + found[0] > end:
                continue
            length, skill = found
            # "the summary should be translated": a determiner + an earlier step's skill is a reference
            if i > start and self.words[i - 1] in DETERMINERS and any(c.skill == skill for c in earlier):
                continue
            return i, length, skill
        return None

    def kind(self, start: int, end: int, separator: str) -> str:
        """What a part with no skill is: "language", "glue", "request" (not understood) or "text"."""
        words = [self.words[i] for i in range(start, end) if self.tokens[i].kind == "w"]
        has_quote = any(self.tokens[i].kind == "q" for i in range(start, end))
        if words and not has_quote:
            languages = [w for w in words if w in LANGUAGES or w in LANGUAGE_CODES]
            if languages and all(w in LANGUAGES or w in LANGUAGE_CODES or w in TARGET_PREPOSITIONS
                                 or w in {"and", "or", "also", "please", "too", "as", "well", "both"} for w in words):
                if any(w in LANGUAGES for w in languages) or words[0] in TARGET_PREPOSITIONS:
                    return "language"
            if all(w in GLUE for w in words):
                return "glue"
        first = next((w for w in words if w not in POLITENESS), None)
        if first in REQUEST_VERBS:
            return "request"
        return "request" if separator == "strong" and words else "text"

    def clauses(self) -> list[_Clause]:
        clauses: list[_Clause] = []
        prefix: tuple[int, str] | None = None  # parts waiting to join the next clause
        for start, end, separator in _segments(self.tokens, self.words):
            found = self.intent(start, end, clauses)
            if found:
                at, length, skill = found
                begin, sep = prefix if prefix else (start, separator)
                clauses.append(_Clause(begin, end, sep, skill, at, length))
                prefix = None
                continue
            kind = self.kind(start, end, separator)
            last = clauses[-1] if clauses else None
            if kind == "language" and last is not None and last.skill is not None:
                last.end = end
            elif kind in ("glue", "language"):
                prefix = prefix or (start, separator)
            elif kind == "text" and last is not None and prefix is None:
                if separator == "stop" and last.skill and _family(last.skill) == "search":
                    clauses.append(_Clause(start, end, separator))  # a new sentence is no part of a query
                else:
                    last.end = end  # more of the clause's own text ("search for salt and pepper")
            elif kind == "text":
                prefix = prefix or (start, separator)
            else:
                begin = prefix[0] if prefix else start
                clauses.append(_Clause(begin, end, separator))
                prefix = None
        if prefix is not None:
            if clauses:
                clauses[-1].end = max(clauses[-1].end, len(self.tokens))
            elif any(token.kind != "s" for token in self.tokens[prefix[0]:]):
                clauses.append(_Clause(prefix[0], len(self.tokens), prefix[1]))
        return clauses

    def text_of(self, start: int, end: int) -> str:
        if start >= end:
            return ""
        return self.request.restore(self.request.command[self.tokens[start].start:self.tokens[end - 1].end]).strip()


    # -- planning

    def plan(self) -> None:
        clauses = self.clauses()
        if self.request.tail and (first := next((c for c in clauses if c.skill), None)):
            first.end = len(self.tokens)  # a long request: one instruction, and the rest is its text
            clauses = [first]
        if not any(clause.skill for clause in clauses):
            whole = self.request.restore(self.request.command).strip() or self.request.query.strip()
            if whole:
                self.unknown.append(_short(whole) or whole[:UNKNOWN_CHARS])
            return
        for index, clause in enumerate(clauses):
            if clause.skill is None:
                if text := self.text_of(clause.start, clause.end):
                    self.unknown.append(_short(text))
                continue
            self.plan_clause(clause, clauses[:index], last=index == len(clauses) - 1)

    def plan_clause(self, clause: _Clause, earlier: list[_Clause], *, last: bool) -> None:
        skill, family = clause.skill, _family(clause.skill)
        targets, source, marked = self.languages(clause, translation=family == "translation")
        objects, residual = self.objects(clause, marked, last=last)
        planned = [c for c in earlier if c.subtasks]
        depends_on: tuple[int, ...] = ()
        text: str | None = None
        described = "the text"
        if objects:
            pass
        elif planned and self.chained(clause, residual, planned):
            referred = self.referred(clause, residual, planned)
            depends_on = tuple(referred.subtasks)
            described = _output_name(referred.skill, referred.subtasks)
        elif self.request.payload:
            text = self.request.payload
        else:
            text = self.request.query.strip()
            described = "the request"
            if not self.fallback_used:
                self.fallback_used = True
                self.notes.append("The request names no text to work on; the whole request is used as the text.")
        work = objects or [(text, described)]
        for content, what in work:
            if family == "translation":
                for target in targets or [DEFAULT_TARGET_LANGUAGE]:
                    clause.subtasks.append(self.add(skill, content, what, depends_on, target=target, source=source))
            else:
                position = self.add(skill, content, what, depends_on, clause=clause)
                clause.subtasks.append(position)
                if family == "summarization" and targets:
                    self.translate_after(position, targets)

    def translate_after(self, position: int, targets: list[str]) -> None:
        """"Summarise this in Spanish": a translation of the summary."""
        skill = self.vocabulary.skill_for("translate")
        if skill is None or _family(skill) != "translation":
            self.unknown.extend(f"translate into {LANGUAGE_NAMES.get(t, t)}" for t in targets)
            return
        for target in targets:
            self.add(skill, None, "the summary", (position,), target=target)

    def languages(self, clause: _Clause, *, translation: bool) -> tuple[list[str], str | None, set[int]]:
        """Target languages, the source language, and the tokens that said so."""
        words = self.words
        targets: list[str] = []
        source, marked = None, set()
        i = clause.start
        while i < clause.end:
            word = words[i]
            if word == "from" and (language := _language(words, i + 1, code_ok=True)):
                source = language
                marked |= {i, i + 1}
                i += 2
                continue
            if word in TARGET_PREPOSITIONS and _language(words, i + 1, code_ok=True):
                marked.add(i)
                j = i + 1
                while j < clause.end:
                    if language := _language(words, j, code_ok=True):
                        targets.append(language)
                        marked.add(j)
                    elif words[j] in ("and", "or", "&", "both", "also") or words[j] in TARGET_PREPOSITIONS \
                            or self.tokens[j].norm == ",":
                        if not _language(words, j + 1, code_ok=True):
                            break
                        marked.add(j)
                    else:
                        break
                    j += 1
                i = j
                continue
            i += 1
        if not translation:
            # Only a trailing "in Spanish" counts for other skills ("summarise this in Spanish").
            trailing = [i for i in range(clause.start, clause.end) if self.tokens[i].kind != "s"]
            if not trailing or trailing[-1] not in marked:
                return [], None, set()
            return targets, None, marked
        if not targets:  # "the Spanish translation of this": a bare language name before the verb
            for i in range(clause.start, clause.at):
                if words[i] in LANGUAGES and i not in marked:
                    targets.append(LANGUAGES[words[i]])
                    marked.add(i)
        return list(dict.fromkeys(targets)), source, marked

    def objects(self, clause: _Clause, marked: set[int], *, last: bool) -> tuple[list[tuple[str, str]], list[str]]:
        """The clause's own objects [(text, how the instruction names it)] and the words of what it points at."""
        quotes = [int(self.tokens[i].norm) for i in range(clause.start, clause.end) if self.tokens[i].kind == "q"]
        if quotes:
            residual = [self.words[i] for i in range(self.object_start(clause), clause.end)
                        if self.tokens[i].kind == "w" and i not in marked]
            return [(self.request.quotes[q][0], f"“{_preview(self.request.quotes[q][0])}”") for q in quotes], residual
        tail = self.request.tail if last else ""
        if _family(clause.skill) == "calculation":  # "what is 2 plus 3": the numbers are on both sides
            text = (self.text_of(clause.start, clause.end) + tail).strip()
            return ([(text, f"“{_preview(text)}”")] if _NUMBER.search(text[:2000]) else []), []
        after = [i for i in range(self.object_start(clause), clause.end) if self.tokens[i].kind != "s" or
                 self.tokens[i].norm == ","]
        # The words before the first language phrase, else those after the last one.
        runs: list[list[int]] = [[]]
        for i in after:
            if i in marked:
                if runs[-1]:
                    runs.append([])
            else:
                runs[-1].append(i)
        run = next((r for r in runs if r), [])
        while run and (self.tokens[run[0]].kind == "s" or self.words[run[0]] in LEADING_FILLERS):
            run.pop(0)
        while run and (self.tokens[run[-1]].kind == "s" or self.words[run[-1]] in TRAILING_FILLERS):
            run.pop()
        residual = [self.words[i] for i in run if self.tokens[i].kind == "w"]
        own = not all(word in DEICTIC or word in OUTPUT_REFERENCES for word in residual)
        if own and clause.separator and any(word in OUTPUT_NOUNS for word in residual[:4]):
            own = False  # "..., summarise the top result": an earlier output, not new text
        if own and self.request.payload and residual and residual[-1] in POINTERS:
            own = False  # "summarise the key ideas of this: <text>": words about the text, not the text
        if tail and not own:
            return [(tail.strip(), "the text")], residual
        if not own:
            return [], residual
        text = self.request.restore(self.request.command[self.tokens[run[0]].start:self.tokens[run[-1]].end])
        if tail:
            text = self.request.restore(self.request.command[self.tokens[run[0]].start:]) + tail
        text = text.strip()
        return [(text, f"“{_preview(text)}”")], residual

    def object_start(self, clause: _Clause) -> int:
        """Where the object starts: after the skill phrase, past "Agent" and a repeated verb
        ("ask the Summarizer Agent to summarise this")."""
        start = clause.at + clause.length
        while start < clause.end and self.words[start] in ("agent", "agents", "bot"):
            start += 1
        for i in range(start, min(start + 4, clause.end)):
            found = self.vocabulary.match_at(self.words, i) if self.words[i] else None
            if found and found[1] == clause.skill:
                return i + found[0]
            if self.words[i] not in ("to", "and", "please", "can", "you", "will", "should"):
                break
        return start

    def chained(self, clause: _Clause, residual: list[str], planned: list[_Clause]) -> bool:
        if any(word in OUTPUT_REFERENCES for word in residual) or self.referred_family(clause, residual):
            return True
        if not residual:
            return True  # "... then summarise": nothing of its own, so the previous output
        previous = planned[-1]
        bare = previous.at + previous.length >= previous.end
        if bare and clause.separator in ("weak", "stop", ""):
            return True  # "summarise and translate this": one object, through both
        return not self.request.payload  # "this" with nothing set apart can only be the previous output

    def referred_family(self, clause: _Clause, residual: list[str]) -> str | None:
        for word in residual:
            if word in REFERENCE_FAMILIES:
                return REFERENCE_FAMILIES[word]
        for i in range(clause.start, clause.at):  # "the summary, translated into Spanish"
            if self.words[i] in REFERENCE_FAMILIES and i > clause.start and self.words[i - 1] in DETERMINERS:
                return REFERENCE_FAMILIES[self.words[i]]
        return None

    def referred(self, clause: _Clause, residual: list[str], planned: list[_Clause]) -> _Clause:
        family = self.referred_family(clause, residual)
        if family:
            for candidate in reversed(planned):
                if _family(candidate.skill) == family:
                    return candidate
        return planned[-1]

    def add(self, skill: str, text: str | None, what: str, depends_on: tuple[int, ...], *,
            target: str | None = None, source: str | None = None, clause: _Clause | None = None) -> int:
        words = [self.words[i] for i in range(clause.start, clause.end) if self.tokens[i].kind == "w"] if clause else []
        self.subtasks.append(_subtask(skill, text, what, depends_on, target=target, source=source, words=words))
        return len(self.subtasks) - 1


def _subtask(skill: str, text: str | None, what: str, depends_on: tuple[int, ...], *, target: str | None = None,
             source: str | None = None, words: list[str] = ()) -> Subtask:
    """One subtask in the shape its kind of agent expects; `text` None: a chained step, filled at run time."""
    family = _family(skill)
    data: dict = {}
    if family == "search":
        if text is not None:
            data["query"] = text
        instruction = f"Search for {what}" if text is not None else f"Search using {what}"
    elif family == "translation":
        if text is not None:
            data["text"] = text
        data["targetLanguage"] = target or DEFAULT_TARGET_LANGUAGE
        if source and source != data["targetLanguage"]:
            data["sourceLanguage"] = source
        language = LANGUAGE_NAMES.get(data["targetLanguage"], data["targetLanguage"])
        instruction = f"Translate {what} into {language}"
    elif family == "summarization":
        if text is not None:
            data["text"] = text
        instruction = f"Summarise {what}"
    elif family == "echo":
        if text is not None:
            data["message"] = text
        instruction = f"Echo {what}"
    else:
        if text is not None:
            data["text"] = text
        if family == "calculation":
            data.update(_calculation(words, text or ""))
            instruction = f"Calculate {what}"
        else:
            if family == "text_processing" and (operation := next(
                    (TEXT_OPERATIONS[w] for w in words if w in TEXT_OPERATIONS), None)):
                data["operation"] = operation
            instruction = f"Use {skill.replace('_', ' ').replace('-', ' ')} on {what}"
    return Subtask(skill=skill, instruction=instruction[:1000], input=data, depends_on=tuple(sorted(set(depends_on))))


def _calculation(words: list[str], text: str) -> dict:
    """The calculator's input when the request says it: {"operation": "add", "numbers": [2, 3]}."""
    operations = {CALCULATIONS[w] for w in words if w in CALCULATIONS}
    if not operations:
        operations = {operation for symbol, operation in CALCULATION_SYMBOLS.items() if symbol in text[:200]}
    numbers = []
    for found in _NUMBER.findall(text[:2000]):
        number = float(found)
        numbers.append(int(number) if number.is_integer() and "." not in found else number)
    if len(operations) != 1 or not numbers:
        return {}
    return {"operation": operations.pop(), "numbers": numbers[:100]}


def _output_name(skill: str, positions: list[int]) -> str:
    """How an instruction names an earlier step's output: "the summary", "the result of step 2"."""
    family = _family(skill)
    plural = len(positions) > 1
    if family == "summarization":
        return "the summaries" if plural else "the summary"
    if family == "translation":
        return "the translations" if plural else "the translation"
    if family == "search":
        return "the search results"
    steps = [str(position + 1) for position in positions]
    return f"the result of step {steps[0]}" if not plural else f"the results of steps {', '.join(steps)}"


def _preview(text: str, limit: int = 40) -> str:
    text = " ".join(text[:limit * 4].split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _short(text: str) -> str:
    text = " ".join(text[:UNKNOWN_CHARS * 4].split()).strip(" ,;.")
    return text if len(text) <= UNKNOWN_CHARS else text[:UNKNOWN_CHARS - 1].rstrip() + "…"


# --- The planner --------------------------------------------------------------------------------------------


def builtin_plan(query: str, *, vocabulary: SkillVocabulary, required_skills: list[str] | None = None) -> Plan:
    """Plan `query` into subtasks over the skills `vocabulary` offers (see the module's docstring)."""
    if not isinstance(query, str) or not query.strip():
        return Plan(subtasks=())
    planner = _Planner(query, vocabulary)
    planner.plan()
    subtasks, notes, unknown = planner.subtasks, planner.notes, planner.unknown
    if required_skills:
        subtasks, notes, unknown = _required(planner, required_skills)
    if len(subtasks) > MAX_SUBTASKS:
        notes = [*notes, f"The request makes {len(subtasks)} steps; only the first {MAX_SUBTASKS} are planned."]
        subtasks = subtasks[:MAX_SUBTASKS]
    return Plan(subtasks=tuple(subtasks), planner="builtin", notes=tuple(dict.fromkeys(notes)),
                unknown=tuple(dict.fromkeys(unknown)))


def _required(planner: _Planner, required_skills: list[str]) -> tuple[list[Subtask], list[str], list[str]]:
    """Exactly the caller's skills, in order, as a chain; details the request gives for a skill are kept."""
    parsed: dict[str, list[Subtask]] = {}
    for subtask in planner.subtasks:
        parsed.setdefault(subtask.skill, []).append(subtask)
    request = planner.request
    subtasks: list[Subtask] = []
    unknown: list[str] = []
    for name in required_skills:
        skill = planner.vocabulary.skill_for(name) if isinstance(name, str) and name.strip() else None
        if skill is None:
            unknown.append(f"{name} (no listed agent offers this skill)")
            continue
        hint = parsed[skill].pop(0) if parsed.get(skill) else None  # what the request said for this skill
        target = hint.input.get("targetLanguage") if hint else None
        source = hint.input.get("sourceLanguage") if hint else None
        if subtasks:
            position = len(subtasks) - 1
            subtasks.append(_subtask(skill, None, _output_name(subtasks[-1].skill, [position]), (position,),
                                     target=target, source=source))
        elif hint is not None and not hint.depends_on and ("text" in hint.input or "query" in hint.input):
            subtasks.append(hint)  # the request's own words for the first skill: "translate hello into Spanish"
        else:
            text, what = (request.payload, "the text") if request.payload else (request.query.strip(), "the request")
            subtasks.append(_subtask(skill, text, what, (), target=target, source=source))
    notes = [f"Planned the required skills in order, as a chain: {', '.join(s.skill for s in subtasks)}."]
    return subtasks, notes if subtasks else [], unknown
