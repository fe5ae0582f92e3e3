"""The demo HTTP agents as catalog entries, for `seed_demo` to register. Plain data: no Django here.

Each entry's keys are Agent model fields (marketplace/models.py) except those in `NOT_AGENT_FIELDS`:

- `path`: where the agent lives on the demo server; its endpoint is `f"{base_url}/{path}"` (the
  slug, except the HTTP echo, whose slug `echo-http` leaves `echo` to the hosted Echo of seed 002).
- `category`: a coarse grouping for pages and filters (the model keeps `business_domain`).
- `base_price`: seed 004's `basePrice`, the same as `price_per_use`.
- `example_inputs`: [{title, input}] a form or a test can start from.

Prices are decimal strings. `agent_fields(entry, base_url)` gives the model fields ready for
`Agent.objects.create(...)`: Decimal prices, `transport="http"` and the endpoint URL filled in.
"""

from decimal import Decimal

NOT_AGENT_FIELDS = frozenset({"path", "category", "base_price", "example_inputs"})
MONEY_FIELDS = ("price_per_use", "dynamic_price", "monthly_price")

_SUMMARY_OPTIONS = {
    "maxSentences": {"type": "integer", "minimum": 1, "maximum": 100,
                     "description": "At most this many sentences."},
    "ratio": {"type": "number", "exclusiveMinimum": 0, "maximum": 1,
              "description": "Keep this share of the sentences (default 0.3, at most 5 sentences)."},
    "maxWords": {"type": "integer", "minimum": 1, "maximum": 100000,
                 "description": "Drop the lowest-ranked sentences until the summary fits."},
}
_LANGUAGE = {"type": "string", "enum": ["en", "es", "fr", "de"]}
_TRANSLATION_OPTIONS = {
    "targetLanguage": {**_LANGUAGE, "description": "Default target language when the input names none."},
    "sourceLanguage": {**_LANGUAGE, "description": "Source language (detected when absent)."},
    "engine": {"type": "string", "enum": ["auto", "dictionary", "llm"], "default": "auto",
               "description": "auto: an LLM when the operator configured one, else the bundled dictionary."},
}
_DELAY = {"delayMs": {"type": "integer", "minimum": 0, "maximum": 10000,
                      "description": "Wait this long before answering (for timeout tests)."}}

_SAMPLE_TEXT = (
    "Solar power is now the cheapest source of new electricity in many countries. "
    "The price of solar panels has fallen by about ninety percent in a decade. "
    "My neighbour painted his fence green last weekend. "
    "Grid operators pair solar farms with batteries so that electricity is available after sunset. "
    "Analysts expect solar power to supply a large share of global electricity by 2040."
)


def _schema(properties: dict) -> dict:
    return {"type": "object", "properties": properties, "additionalProperties": False}


HTTP_AGENTS: list[dict] = [
    {
        "slug": "summarizer",
        "path": "summarizer",
        "name": "Summarizer Agent",
        "short_description": "Picks the key sentences of a text: an extractive summary with keywords.",
        "description": "Splits a text into sentences, ranks them with TextRank (sentences that share the most "
        "content words with the rest of the text rank highest; word frequency for very long texts) and answers "
        "with the best ones in their original order, plus the text's keywords. Deterministic: the same text "
        "always gives the same summary.",
        "business_domain": "productivity",
        "category": "text",
        "version": "1.0.0",
        "owner": "AgentHub Platform Team",
        "skills": ["summarization", "text_analysis"],
        "capabilities": ["Extractive summaries (TextRank)", "Keeps the original sentence order",
                         "Length by sentences, ratio or words", "Keywords"],
        "tags": ["summarization", "nlp", "documents", "demo"],
        "problem_statement": "People spend hours reading documents to find the few sentences that matter.",
        "goals": ["Keep the sentences that carry the text's main points", "Answer in well under a second"],
        "in_scope": ["Articles, reports, transcripts in English, up to 200,000 characters"],
        "out_of_scope": ["Rewriting sentences (abstractive summaries)", "Scanned images"],
        "operational_details": "HTTP service: POST {endpoint}/execute, GET {endpoint}/health.",
        "inputs": ["text (or a plain string)", "maxSentences / ratio / maxWords (optional)"],
        "outputs": ["summary", "keyPoints", "sentences [{index, text, score}]", "keywords", "compressionRatio"],
        "tools": [],
        "security_controls": ["Inputs are not stored after the run", "Loopback only in development"],
        "kpis": [{"name": "p95 latency", "target": "< 500 ms", "current": "40 ms"}],
        "personas": ["Analyst", "Manager"],
        "pricing_model": "per_use",
        "price_per_use": "0.0300",
        "base_price": "0.0300",
        "dynamic_price": "0.0300",
        "config_schema": _schema(_SUMMARY_OPTIONS),
        "example_inputs": [
            {"title": "Summarise an article in two sentences", "input": {"text": _SAMPLE_TEXT, "maxSentences": 2}},
            {"title": "Keep a third of the sentences", "input": {"text": _SAMPLE_TEXT, "ratio": 0.34}},
        ],
    },
    {
        "slug": "translator",
        "path": "translator",
        "name": "Translator Agent",
        "short_description": "Translates between English, Spanish, French and German, offline.",
        "description": "A small offline translator built on a bundled phrasebook and dictionary: phrases first, "
        "then words, with articles and adjectives agreeing with their noun, adjectives after the noun in Spanish "
        "and French, present-tense verbs conjugated and negation placed for each language. Punctuation and "
        "capitals are kept; words it does not know pass through and are listed. Spanish, French and German "
        "translate into each other through English. Uses an LLM instead when the operator configures one.",
        "business_domain": "productivity",
        "category": "language",
        "version": "1.0.0",
        "owner": "AgentHub Platform Team",
        "skills": ["translation", "language"],
        "capabilities": ["English <-> Spanish, French, German", "Language detection", "Lists unknown words",
                         "Optional LLM engine"],
        "tags": ["translation", "language", "nlp", "demo"],
        "problem_statement": "Short everyday texts need a quick translation without sending them to a third party.",
        "goals": ["Correct agreement and word order for everyday sentences", "Say plainly which words it missed"],
        "in_scope": ["Everyday and business sentences within the bundled vocabulary", "en, es, fr, de"],
        "out_of_scope": ["Certified translation", "Past and future tenses (dictionary engine)"],
        "operational_details": "HTTP service: POST {endpoint}/execute, GET {endpoint}/health. Optional LLM via "
        "TRANSLATOR_LLM_BASE_URL / TRANSLATOR_LLM_MODEL / TRANSLATOR_LLM_API_KEY (OpenAI-compatible).",
        "inputs": ["text", "targetLanguage (en | es | fr | de)", "sourceLanguage (optional, detected)"],
        "outputs": ["translation", "sourceLanguage", "targetLanguage", "unknownWords", "coverage", "method"],
        "tools": [{"name": "Bundled lexicon", "description": "~350 words and phrases in four languages"}],
        "security_controls": ["Inputs are not stored after the run", "No network unless an LLM is configured"],
        "kpis": [{"name": "p95 latency", "target": "< 200 ms", "current": "5 ms"}],
        "personas": ["Support agent", "Traveller"],
        "pricing_model": "per_use",
        "price_per_use": "0.0200",
        "base_price": "0.0200",
        "dynamic_price": "0.0200",
        "config_schema": _schema(_TRANSLATION_OPTIONS),
        "example_inputs": [
            {"title": "English to Spanish", "input": {"text": "The red car is very fast.", "targetLanguage": "es"}},
            {"title": "French to English", "input": {"text": "Je ne parle pas allemand.", "targetLanguage": "en"}},
        ],
    },
    {
        "slug": "search",
        "path": "search",
        "name": "Search Agent",
        "short_description": "Ranked search (BM25) over a bundled library of short articles, with snippets.",
        "description": "Searches a bundled collection of short articles on science, technology, economics, "
        "history and more with Okapi BM25 (stemmed words, stopwords ignored, titles weighted) and answers with "
        "the best hits: title, URL, score and the snippet that holds the most query words.",
        "business_domain": "research",
        "category": "search",
        "version": "1.0.0",
        "owner": "AgentHub Platform Team",
        "skills": ["search", "research", "information_retrieval"],
        "capabilities": ["BM25 ranking", "Snippets around the matching words", "Topic filter"],
        "tags": ["search", "research", "bm25", "demo"],
        "problem_statement": "Research steps need the most relevant sources for a question, ranked, with context.",
        "goals": ["The relevant article ranked first", "Answer in milliseconds"],
        "in_scope": ["The bundled collection (37 articles)"],
        "out_of_scope": ["The open web"],
        "operational_details": "HTTP service: POST {endpoint}/execute, GET {endpoint}/health.",
        "inputs": ["query (or a plain string)", "maxResults (1-50, default 5)", "topic (optional)"],
        "outputs": ["results [{rank, id, title, url, topic, score, snippet, matchedTerms}]", "total", "terms"],
        "tools": [{"name": "BM25 index", "description": "Built in memory when the service starts"}],
        "security_controls": ["Queries are not stored after the run"],
        "kpis": [{"name": "Relevant article first", "target": "90%", "current": "n/a"}],
        "personas": ["Researcher", "Student"],
        "pricing_model": "per_use",
        "price_per_use": "0.0100",
        "base_price": "0.0100",
        "dynamic_price": "0.0100",
        "config_schema": _schema({
            "maxResults": {"type": "integer", "minimum": 1, "maximum": 50, "default": 5},
            "topic": {"type": "string", "description": "Only articles on this topic."},
        }),
        "example_inputs": [
            {"title": "A question", "input": {"query": "how do bees pollinate crops", "maxResults": 3}},
            {"title": "A plain string", "input": "retry a payment without charging the card twice"},
        ],
    },
    {
        "slug": "mock-busy",
        "path": "mock-busy",
        "name": "Mock Busy Agent",
        "short_description": "A test agent that is nearly always busy: high load, slow, often 503.",
        "description": "A test agent for the planner and the runtime: its health reports a load of 0.95, and most "
        "runs are turned away with 503 and Retry-After (70% by default, decided per idempotency key so a "
        "retry may get through). When it does answer it summarises the text, slowly.",
        "business_domain": "testing",
        "category": "testing",
        "version": "0.9.0",
        "owner": "AgentHub Platform Team",
        "skills": ["summarization", "testing"],
        "capabilities": ["Simulates high load", "503 with Retry-After", "Slow answers"],
        "tags": ["mock", "testing", "load", "demo"],
        "problem_statement": "The planner must be seen to avoid overloaded agents, and the runtime to retry them.",
        "goals": ["Reproducible busy behaviour"],
        "in_scope": ["Load, latency and refusal simulation"],
        "out_of_scope": ["Dependable results"],
        "operational_details": "HTTP service: POST {endpoint}/execute, GET {endpoint}/health. config.busyRate "
        "(0-1) sets the refusal rate for one call.",
        "inputs": ["text", "busyRate / delayMs (optional)"],
        "outputs": ["the summarizer's output", "cost"],
        "tools": [],
        "security_controls": ["Loopback only"],
        "kpis": [{"name": "Load", "target": "~95%", "current": "95%"}],
        "personas": ["Platform developer"],
        "pricing_model": "per_use",
        "price_per_use": "0.0200",
        "base_price": "0.0200",
        "dynamic_price": "0.0200",
        "config_schema": _schema({
            "busyRate": {"type": "number", "minimum": 0, "maximum": 1,
                         "description": "Share of runs turned away with 503."},
            **_DELAY,
            **_SUMMARY_OPTIONS,
        }),
        "example_inputs": [
            {"title": "Usually refused", "input": {"text": _SAMPLE_TEXT}},
            {"title": "Never refused", "input": {"text": _SAMPLE_TEXT, "busyRate": 0}},
        ],
    },
    {
        "slug": "mock-highprice",
        "path": "mock-highprice",
        "name": "Mock High-Price Agent",
        "short_description": "A test agent that does good work at a price far above the others.",
        "description": "A test agent for the planner's budget: it translates (when the input names a target "
        "language) or summarises, correctly, and charges 0.50 BB a run, many times the other agents.",
        "business_domain": "testing",
        "category": "testing",
        "version": "0.9.0",
        "owner": "AgentHub Platform Team",
        "skills": ["summarization", "translation", "testing"],
        "capabilities": ["Summaries and translations", "A premium price"],
        "tags": ["mock", "testing", "pricing", "demo"],
        "problem_statement": "The planner must be seen to respect the budget.",
        "goals": ["Reproducible high prices"],
        "in_scope": ["Price simulation with real results"],
        "out_of_scope": ["Value for money"],
        "operational_details": "HTTP service: POST {endpoint}/execute, GET {endpoint}/health.",
        "inputs": ["text", "targetLanguage (optional: translate instead of summarise)"],
        "outputs": ["the summarizer's or the translator's output", "cost (0.5000)"],
        "tools": [],
        "security_controls": ["Loopback only"],
        "kpis": [{"name": "Price", "target": "10x the median", "current": "17x"}],
        "personas": ["Platform developer"],
        "pricing_model": "per_use",
        "price_per_use": "0.5000",
        "base_price": "0.5000",
        "dynamic_price": "0.5000",
        "config_schema": _schema({**_SUMMARY_OPTIONS, **_TRANSLATION_OPTIONS}),
        "example_inputs": [
            {"title": "An expensive translation", "input": {"text": "Good morning!", "targetLanguage": "fr"}},
        ],
    },
    {
        "slug": "mock-negotiator",
        "path": "mock-negotiator",
        "name": "Mock Negotiator Agent",
        "short_description": "A test agent that quotes a price, haggles once, and runs at the agreed price.",
        "description": "A test agent for the planner's negotiation: POST {endpoint}/quote answers a price request "
        "with a binding quote (0.05 BB list, 0.035 BB reserve) or a counter-offer; the buyer may counter once, "
        "and the agent's second answer is final. A run with the quote's id is charged the agreed price; "
        "without one, the list price. The work: a translation when a target language is given, else a summary.",
        "business_domain": "testing",
        "category": "testing",
        "version": "0.9.0",
        "owner": "AgentHub Platform Team",
        "skills": ["negotiation", "translation", "testing"],
        "capabilities": ["Binding quotes", "One counter-offer each way", "Runs at the agreed price"],
        "tags": ["mock", "testing", "negotiation", "demo"],
        "problem_statement": "The planner's price negotiation needs a counterpart to negotiate with.",
        "goals": ["Reproducible negotiation outcomes"],
        "in_scope": ["Quotes and counter-offers", "Translations and summaries"],
        "out_of_scope": ["More than one counter-offer"],
        "operational_details": "HTTP service: POST {endpoint}/quote, POST {endpoint}/execute (quoteId in the body "
        "or in config), GET {endpoint}/health.",
        "inputs": ["text", "targetLanguage (optional)", "quoteId (body or config, optional)"],
        "outputs": ["the translator's or the summarizer's output", "cost (the agreed price)", "quoteId"],
        "tools": [],
        "security_controls": ["Loopback only", "A quote pays for one run"],
        "kpis": [{"name": "Offers accepted", "target": "50%", "current": "n/a"}],
        "personas": ["Platform developer"],
        "pricing_model": "per_use",
        "price_per_use": "0.0500",
        "base_price": "0.0500",
        "dynamic_price": "0.0500",
        "config_schema": _schema({
            "quoteId": {"type": "string", "description": "Run at this quote's agreed price."},
            **_SUMMARY_OPTIONS,
            **_TRANSLATION_OPTIONS,
        }),
        "example_inputs": [
            {"title": "Translate at the list price", "input": {"text": "Thank you very much!", "targetLanguage": "de"}},
        ],
    },
    {
        "slug": "echo-http",
        "path": "echo",
        "name": "Echo (HTTP)",
        "short_description": "Returns its input unchanged, over HTTP: what benchmarks measure the platform with.",
        "description": "The trivial HTTP agent: the result is the input, exactly. Free. config.delayMs makes it "
        "wait before answering, for timeout tests.",
        "business_domain": "utility",
        "category": "testing",
        "version": "1.0.0",
        "owner": "AgentHub Platform Team",
        "skills": ["echo", "testing"],
        "capabilities": ["Returns the input unchanged", "Optional delay"],
        "tags": ["echo", "benchmark", "demo"],
        "problem_statement": "Measuring the platform's own overhead needs an agent that does no work.",
        "goals": ["Negligible time in the agent"],
        "in_scope": ["Any JSON input"],
        "out_of_scope": ["Any transformation"],
        "operational_details": "HTTP service: POST {endpoint}/execute, GET {endpoint}/health.",
        "inputs": ["any JSON value"],
        "outputs": ["the same JSON value"],
        "tools": [],
        "security_controls": ["Loopback only"],
        "kpis": [{"name": "Throughput", "target": "> 300 requests/s", "current": "~4000 requests/s"}],
        "personas": ["Platform developer"],
        "pricing_model": "free",
        "price_per_use": "0.0000",
        "base_price": "0.0000",
        "dynamic_price": "0.0000",
        "config_schema": _schema(_DELAY),
        "example_inputs": [{"title": "Any JSON", "input": {"message": "Hello World!"}}],
    },
]


def endpoint_url(entry: dict, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/{entry['path']}"


def agent_fields(entry: dict, base_url: str) -> dict:
    """`entry` as Agent model fields (slug included): Decimal money, transport http, the endpoint URL."""
    fields = {key: value for key, value in entry.items() if key not in NOT_AGENT_FIELDS}
    for key in MONEY_FIELDS:
        if key in fields:
            fields[key] = Decimal(fields[key])
    fields["transport"] = "http"
    fields["endpoint_url"] = endpoint_url(entry, base_url)
    return fields


def by_slug(slug: str) -> dict:
    return next(entry for entry in HTTP_AGENTS if entry["slug"] == slug)
