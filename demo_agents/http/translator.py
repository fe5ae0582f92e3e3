"""A small offline translator: English <-> Spanish, French, German, and between those three through English.

It works from the bundled lexicon (`data/lexicon.json`): phrases first (longest match), then words
with a little grammar where a word-by-word gloss would be plainly wrong:

- articles, possessives and adjectives agree with their noun (gender, number; German case after a
  preposition and the adjective endings that go with it);
- Spanish and French adjectives follow the noun unless they are the few that go before it;
- present-tense verbs are conjugated for their subject; "do not" / "not" become no / ne...pas / nicht;
- object pronouns move before the verb in Spanish and French;
- French elision (l', j', n') and contractions (du, au, del, al, vom, zum), Spanish ¿ and ¡;
- punctuation, spacing and capitalisation are kept; unknown words pass through and are listed.

When an OpenAI-compatible server is configured (`TRANSLATOR_LLM_BASE_URL`, `TRANSLATOR_LLM_MODEL`,
optionally `TRANSLATOR_LLM_API_KEY`), the agent asks it first and falls back to the lexicon on any
error; see `llm_translate`.
"""

import json
import os
import re
import urllib.request
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = {"en": "English", "es": "Spanish", "fr": "French", "de": "German"}
LANGUAGE_NAMES = {name.lower(): code for code, name in LANGUAGES.items()} | {
    "español": "es", "spanish": "es", "castellano": "es", "français": "fr", "francais": "fr",
    "deutsch": "de", "inglés": "en", "anglais": "en", "englisch": "en",
}
PERSONS = ("1s", "2s", "3s", "1p", "2p", "3p")
SUBJECT_PERSONS = {"i": "1s", "you": "2s", "he": "3s", "she": "3s", "it": "3s", "we": "1p", "they": "3p"}
ENGLISH_SUBJECTS = {"1s": "I", "2s": "you", "3s": "it", "1p": "we", "2p": "you", "3p": "they"}
MODALS = {"can", "must"}
# Spanish feminine nouns that take "el" / "un" in the singular (stressed initial a).
EL_FEMININE = {"agua", "águila", "alma", "arma", "hacha", "hambre", "área", "aula"}
FRENCH_ELIDED = {"l": "le", "d": "de", "j": "je", "n": "ne", "qu": "que", "c": "ce", "s": "se", "m": "me", "t": "te"}
TOKEN_RE = re.compile(r"(\s+)|([^\W\d_]+(?:['’][^\W\d_]+)*)|(\d+(?:[.,]\d+)*)|(.)", re.S)


class TranslationError(ValueError):
    """Bad input: an unsupported language or pair."""


def language_code(value: str) -> str | None:
    value = value.strip().lower()
    if value in LANGUAGES:
        return value
    if value in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[value]
    base = value.split("-")[0].split("_")[0]
    return base if base in LANGUAGES else None


# -- the lexicon ---------------------------------------------------------------------------


@dataclass
class Entry:
    """One lexicon row: its English form and, per language, what the grammar needs to render it."""

    pos: str  # det | pron | noun | adj | verb | word | phrase
    en: str
    forms: dict[str, Any]
    en_plural: str = ""
    kind: str = ""  # determiners: def | indef; pronouns: a person or "obj"


@dataclass(frozen=True)
class Reading:
    entry: Entry
    number: str = "s"  # noun number as written
    person: str = ""  # verbs: the person the written form fixes ("" = from the subject)
    infinitive: bool = False


def _es_plural(word: str) -> str:
    if word.endswith("z"):
        return word[:-1] + "ces"
    return word + ("s" if word[-1] in "aeiouáéó" else "es")


def _fr_plural(word: str) -> str:
    if word[-1] in "sxz":
        return word
    if word.endswith(("eau", "au", "eu")):
        return word + "x"
    if word.endswith("al"):
        return word[:-2] + "aux"
    return word + "s"


def _en_plural(word: str) -> str:
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return word[:-1] + "ies"
    return word + "s"


def _en_third_person(verb: str) -> str:
    return {"be": "is", "have": "has", "do": "does", "go": "goes", "can": "can", "must": "must"}.get(
        verb, _en_plural(verb)
    )


def _adjective_forms(lang: str, spec: str) -> dict:
    pre = spec.endswith("^")
    parts = spec.rstrip("^").split("/")
    if lang == "de":
        return {"base": parts[0], "stem": parts[1] if len(parts) > 1 else parts[0]}
    m = parts[0]
    if len(parts) > 1:
        f = parts[1]
    elif lang == "es":
        f = m[:-1] + "a" if m.endswith("o") else m + "a" if m.endswith("or") else m
    elif m.endswith("e"):
        f = m
    elif m.endswith("eux"):
        f = m[:-1] + "se"
    elif m.endswith("if"):
        f = m[:-1] + "ve"
    elif m.endswith("er"):
        f = m[:-2] + "ère"
    elif m.endswith(("el", "en", "on")):
        f = m + m[-1] + "e"
    else:
        f = m + "e"
    plural = _es_plural if lang == "es" else _fr_plural
    mp = parts[2] if len(parts) > 2 else plural(m)
    fp = parts[3] if len(parts) > 3 else (plural(f) if lang == "es" else f + "s")
    return {"m": m, "f": f, "mp": mp, "fp": fp, "pre": pre}


def _verb_forms(lang: str, spec: str) -> dict:
    if ":" in spec:
        infinitive, forms = spec.split(":", 1)
        return {"inf": infinitive, "present": forms.split(",")}
    inf = spec
    if lang == "es":
        stem, ending = inf[:-2], inf[-2:]
        endings = {
            "ar": ("o", "as", "a", "amos", "áis", "an"),
            "er": ("o", "es", "e", "emos", "éis", "en"),
            "ir": ("o", "es", "e", "imos", "ís", "en"),
        }[ending]
    elif lang == "fr":  # regular -er verbs
        stem, endings = inf[:-2], ("e", "es", "e", "ons", "ez", "ent")
    else:  # German weak verbs
        stem = inf[:-2] if inf.endswith("en") else inf[:-1]
        endings = ("e", "st", "t", "en", "t", "en")
    return {"inf": inf, "present": [stem + e for e in endings]}


def _determiner_forms(lang: str, spec: str) -> dict:
    parts = spec.split("/")
    if lang == "de":
        keys = ("m", "f", "n", "p", "dat-m", "dat-f", "dat-n", "dat-p", "acc-m")
    else:
        keys = ("m", "f", "mp", "fp")
    return {key: ("" if value == "-" else value) for key, value in zip(keys, parts, strict=True)}


class Lexicon:
    """The bundled lexicon, indexed for both directions."""

    def __init__(self, data: dict):
        self.targets = [code for code in LANGUAGES if code != "en"]
        self.en_index: dict[str, list[Reading]] = {}
        self.en_phrases: dict[tuple[str, ...], Entry] = {}
        self.rev_index: dict[str, dict[str, list[Reading]]] = {lang: {} for lang in self.targets}
        self.rev_phrases: dict[str, dict[tuple[str, ...], Entry]] = {lang: {} for lang in self.targets}
        self.contractions: dict[str, str] = data["contractions"]
        langs = self.targets

        for en, kind, *specs in data["determiners"]:
            entry = Entry("det", en, {lang: _determiner_forms(lang, s) for lang, s in zip(langs, specs, strict=True)},
                          kind=kind)
            self._add_en(en, Reading(entry, number="p" if en in ("these", "those") else "s"))
            for lang in langs:
                for key, form in entry.forms[lang].items():
                    if form:
                        plural = "p" if key.endswith("p") else "s"
                        self._add_rev(lang, form, Reading(entry, number=plural))
        for en, person, *specs in data["pronouns"]:
            entry = Entry("pron", en, dict(zip(langs, specs, strict=True)), kind=person)
            self._add_en(en, Reading(entry, person=person))
            for lang in langs:
                if entry.forms[lang]:
                    self._add_rev(lang, entry.forms[lang], Reading(entry, person=person))
        for en, *specs in data["nouns"]:
            singular, _, plural = en.partition("/")
            forms = {}
            for lang, spec in zip(langs, specs, strict=True):
                word, gender, *rest = spec.split("|")
                default = _es_plural(word) if lang == "es" else _fr_plural(word) if lang == "fr" else word + "e"
                forms[lang] = {"sg": word, "pl": rest[0] if rest else default, "g": gender}
            entry = Entry("noun", singular, forms, en_plural=plural or _en_plural(singular))
            self._add_en(singular, Reading(entry))
            self._add_en(entry.en_plural, Reading(entry, number="p"))
            for lang in langs:
                self._add_rev(lang, forms[lang]["sg"], Reading(entry))
                self._add_rev(lang, forms[lang]["pl"], Reading(entry, number="p"))
        for en, *specs in data["adjectives"]:
            entry = Entry("adj", en, {lang: _adjective_forms(lang, s) for lang, s in zip(langs, specs, strict=True)})
            self._add_en(en, Reading(entry))
            for lang in langs:
                forms = entry.forms[lang]
                if lang == "de":
                    surface = [forms["base"]] + [forms["stem"] + e for e in ("e", "er", "es", "en", "em")]
                else:
                    surface = [forms[k] for k in ("m", "f", "mp", "fp")]
                for form in surface:
                    self._add_rev(lang, form, Reading(entry))
        for en, *specs in data["verbs"]:
            lemma, *inflected = en.split("/")
            entry = Entry("verb", lemma, {lang: _verb_forms(lang, s) for lang, s in zip(langs, specs, strict=True)})
            self._add_en(lemma, Reading(entry))
            fixed = {"am": "1s", "is": "3s", "has": "3s", "does": "3s", "goes": "3s"}
            for form in inflected:
                self._add_en(form, Reading(entry, person=fixed.get(form, "")))
            if lemma not in ("be", "have", "do", "go", "can", "must"):
                self._add_en(_en_third_person(lemma), Reading(entry, person="3s"))
            for lang in langs:
                forms = entry.forms[lang]
                for person, form in zip(PERSONS, forms["present"], strict=True):
                    self._add_rev(lang, form, Reading(entry, person=person))
                self._add_rev(lang, forms["inf"], Reading(entry, infinitive=True))
        for en, *specs in data["words"]:
            entry = Entry("word", en, dict(zip(langs, specs, strict=True)))
            self._add_en(en, Reading(entry))
            for lang in langs:
                self._add_rev(lang, entry.forms[lang].split("@")[0], Reading(entry))
        for en, *specs in data["phrases"]:
            entry = Entry("phrase", en, dict(zip(langs, specs, strict=True)))
            self.en_phrases[tuple(en.split())] = entry
            for lang in langs:
                key = tuple(_split_words(entry.forms[lang].lower(), lang))
                self.rev_phrases[lang].setdefault(key, entry)
        self.max_phrase = max(len(key) for key in self.en_phrases)
        self.max_rev_phrase = {lang: max(len(k) for k in self.rev_phrases[lang]) for lang in langs}

    def _add_en(self, word: str, reading: Reading) -> None:
        self.en_index.setdefault(word.lower(), []).append(reading)

    def _add_rev(self, lang: str, form: str, reading: Reading) -> None:
        readings = self.rev_index[lang].setdefault(form.lower(), [])
        if not any(r.entry is reading.entry and r.person == reading.person for r in readings):
            readings.append(reading)

    def english_readings(self, word: str) -> list[Reading]:
        word = word.lower().replace("’", "'")
        if word in self.en_index:
            return self.en_index[word]
        if word.endswith("'s"):  # a possessive noun: the noun itself
            return self.en_index.get(word[:-2], [])
        return []


def _split_words(text: str, lang: str) -> list[str]:
    out = []
    for match in TOKEN_RE.finditer(text):
        if match.group(2):
            out.extend(_split_elision(match.group(2), lang))
    return out


def _split_elision(word: str, lang: str) -> list[str]:
    if lang == "fr" and ("'" in word or "’" in word):
        head, _, tail = word.replace("’", "'").partition("'")
        if head.lower() in FRENCH_ELIDED and tail:
            return [head + "'", tail]
    return [word]


@cache
def lexicon() -> Lexicon:
    with open(Path(__file__).parent / "data" / "lexicon.json", encoding="utf-8") as f:
        return Lexicon(json.load(f))


# -- units: what the grammar passes work on ----------------------------------------------


@dataclass
class Unit:
    space: str  # the whitespace before it in the source, kept in place when units move
    source: str  # the source text it stands for
    kind: str  # word | number | punct
    readings: list[Reading] = field(default_factory=list)
    reading: Reading | None = None
    text: str | None = None  # a fixed translation (phrases, dropped words: "")
    gender: str = "m"
    number: str = "s"
    person: str = ""
    case: str = "nom"
    det_kind: str = "none"
    infinitive: bool = False
    negated: bool = False
    clitic: str = ""
    predicative: bool = False
    sentence_start: bool = False  # first word of its sentence where it stands now (moves with reordering)
    first_word: bool = False  # first word of its sentence in the source (never moves)
    capital_sentence: bool = False  # the sentence it belongs to starts with a capital in the source
    head: str = ""  # determiners: the singular form of their noun in the target language
    inverted: bool = False  # a subject pronoun after its verb, as in a question
    enclitic: str = ""  # Spanish: an object pronoun written onto an infinitive (ayudarme)

    @property
    def pos(self) -> str:
        return self.reading.entry.pos if self.reading else ("phrase" if self.text is not None else "")

    @property
    def en(self) -> str:
        return self.reading.entry.en if self.reading else ""

    def has(self, pos: str) -> bool:
        return any(r.entry.pos == pos for r in self.readings)

    def choose(self, pos: str) -> None:
        self.reading = next(r for r in self.readings if r.entry.pos == pos)


def _tokenize(text: str) -> list[Unit]:
    units, space = [], ""
    for match in TOKEN_RE.finditer(text):
        blank, word, number, other = match.groups()
        if blank:
            space += blank
        elif word:
            units.append(Unit(space, word, "word"))
            space = ""
        elif number:
            units.append(Unit(space, number, "number"))
            space = ""
        else:
            units.append(Unit(space, other, "punct"))
            space = ""
    if space:
        units.append(Unit(space, "", "punct"))
    return units


def _mark_sentences(units: list[Unit]) -> None:
    start, capital = True, False
    for unit in units:
        if unit.kind == "word" or unit.kind == "number":
            if start:
                capital = unit.source[:1].isupper()
            unit.sentence_start = unit.first_word = start
            start = False
        elif unit.source in ".!?…\n" or "\n" in unit.space:
            start = True
        unit.capital_sentence = capital


def _match_phrases(units: list[Unit], phrases: dict, longest: int) -> list[Unit]:
    out, i = [], 0
    while i < len(units):
        unit = units[i]
        matched = False
        if unit.kind == "word":
            for size in range(min(longest, len(units) - i), 1, -1):
                span = units[i : i + size]
                if any(u.kind != "word" for u in span) or any(u.space not in (" ", "") for u in span[1:]):
                    continue
                key = tuple(u.source.lower().replace("’", "'") for u in span)
                if key in phrases:
                    merged = Unit(unit.space, " ".join(u.source for u in span), "word")
                    merged.readings = [Reading(phrases[key])]
                    merged.reading = merged.readings[0]
                    merged.sentence_start = merged.first_word = unit.sentence_start
                    merged.capital_sentence = unit.capital_sentence
                    out.append(merged)
                    i += size
                    matched = True
                    break
        if not matched:
            out.append(unit)
            i += 1
    return out


def _neighbour(units: list[Unit], i: int, step: int, *, skip: tuple[str, ...] = ()) -> int | None:
    """The index of the next word unit from i in direction step, skipping dropped units and `skip` words."""
    j = i + step
    while 0 <= j < len(units):
        unit = units[j]
        if unit.kind == "punct":
            return None
        if unit.text == "" or (unit.reading and unit.en in skip):
            j += step
            continue
        return j
    return None


# -- English to Spanish, French, German ---------------------------------------------------


def _from_english(text: str, lang: str, lex: Lexicon) -> tuple[str, list[str], int, int]:
    units = []
    for unit in _tokenize(text):
        expanded = lex.contractions.get(unit.source.lower().replace("’", "'")) if unit.kind == "word" else None
        while expanded and " " not in expanded and expanded in lex.contractions:
            expanded = lex.contractions[expanded]
        if expanded:
            parts = expanded.split()
            first = parts[0] if unit.source[:1].islower() else parts[0].capitalize()
            units.append(Unit(unit.space, first if unit.source.lower() != unit.source else parts[0], "word"))
            units.extend(Unit(" ", part, "word") for part in parts[1:])
        else:
            units.append(unit)
    _mark_sentences(units)
    units = _match_phrases(units, lex.en_phrases, lex.max_phrase)
    for unit in units:
        if unit.kind == "word" and not unit.readings:
            unit.readings = lex.english_readings(unit.source)

    _disambiguate_english(units)
    _negation_and_infinitives(units)
    _verb_persons(units)
    _agreement(units, lang)
    if lang in ("es", "fr"):
        _object_clitics(units, lang)
        _adjectives_after_nouns(units, lang)
    words = total = 0
    unknown: list[str] = []
    for unit in units:
        if unit.kind != "word":
            continue
        total += 1
        if unit.reading is None and unit.text is None:
            if unit.source not in unknown:
                unknown.append(unit.source)
        else:
            words += 1
            if unit.text is None:
                unit.text = _render_target(unit, lang)
    if lang == "de":
        _german_clause_end(units)
    out = _join(units, source_lang="en")
    return _polish(out, lang), unknown, words, total


def _disambiguate_english(units: list[Unit]) -> None:
    for i, unit in enumerate(units):
        if unit.reading or not unit.readings:
            continue
        if len(unit.readings) == 1:
            unit.reading = unit.readings[0]
            continue
        before = _neighbour(units, i, -1)
        after = _neighbour(units, i, 1, skip=("very",))
        prev = units[before] if before is not None else None
        nxt = units[after] if after is not None else None
        prev_word = prev.source.lower() if prev else ""
        subject_before = prev_word in SUBJECT_PERSONS or prev_word in ("to", "not") or (
            prev is not None and prev.reading is not None and prev.en in MODALS | {"do"}
        )
        if unit.has("verb") and (subject_before or (unit.sentence_start and nxt and nxt.has("det"))):
            unit.choose("verb")
        elif unit.has("det") and nxt is not None and (nxt.has("noun") or nxt.has("adj")):
            unit.choose("det")
        elif unit.has("noun") and (prev is None or prev.has("det") or prev.has("adj") or not unit.has("verb")):
            unit.choose("noun")
        else:
            for pos in ("noun", "adj", "word", "pron", "det", "verb"):
                if unit.has(pos):
                    unit.choose(pos)
                    break


def _negation_and_infinitives(units: list[Unit]) -> None:
    for i, unit in enumerate(units):
        if not unit.reading:
            continue
        if unit.en == "do" and unit.pos == "verb":
            after = _neighbour(units, i, 1)
            if after is not None and units[after].source.lower() == "not":
                # "do not X": the negation moves onto X, "do" and "not" disappear.
                verb = _neighbour(units, after, 1)
                if verb is not None and units[verb].has("verb"):
                    units[verb].choose("verb")
                    units[verb].negated = True
                    units[verb].person = unit.reading.person or units[verb].person
                    unit.text = units[after].text = ""
            elif after is not None and units[after].pos == "pron" and unit.sentence_start:
                unit.text = ""  # "Do you speak ...?": no "do" in the other languages
        elif unit.source.lower() == "not" and unit.text is None:
            verb = _neighbour(units, i, -1)
            if verb is not None and units[verb].pos == "verb":
                units[verb].negated = True
                unit.text = ""
        elif unit.source.lower() == "to" and unit.text is None:
            after = _neighbour(units, i, 1)
            if after is not None and units[after].has("verb") and not units[after].has("det"):
                units[after].choose("verb")
                units[after].infinitive = True
                unit.text = ""


def _verb_persons(units: list[Unit]) -> None:
    for i, unit in enumerate(units):
        if unit.pos != "verb" or unit.infinitive:
            continue
        j = _neighbour(units, i, -1, skip=("not", "always", "never", "often", "sometimes", "also", "only",
                                            "still", "already", "really"))
        prev = units[j] if j is not None else None
        if prev is not None and prev.pos == "verb" and (prev.en in MODALS or prev.en == "do"):
            unit.infinitive = True  # "can go", and "do" that stayed
            continue
        if unit.reading.person:
            unit.person = unit.reading.person
        if prev is not None and prev.pos == "pron" and prev.reading.entry.kind in PERSONS:
            k = _neighbour(units, j, -1)
            if k is not None and units[k].pos == "verb" and units[k].en in MODALS:
                unit.infinitive = True  # "Can you help ...?": the modal carries the person
                continue
            unit.person = prev.reading.entry.kind
        elif prev is not None and prev.pos == "noun":
            unit.person = "3p" if prev.reading.number == "p" else "3s"
        elif prev is not None and prev.pos == "phrase":
            unit.person = unit.person or "3s"
        nxt = _neighbour(units, i, 1)
        if prev is None and nxt is not None and units[nxt].pos == "pron" and \
                units[nxt].reading.entry.kind in PERSONS:
            unit.person = unit.person or units[nxt].reading.entry.kind  # a question: "Are you ...?"
            units[nxt].inverted = True
        if not unit.person:
            unit.person = "" if prev is None else "3s"
            unit.infinitive = prev is None


def _agreement(units: list[Unit], lang: str) -> None:
    subject: Unit | None = None
    case = "nom"
    for i, unit in enumerate(units):
        if unit.kind == "punct" and unit.source in ".!?;:":
            subject, case = None, "nom"
        if not unit.reading:
            continue
        pos = unit.pos
        if pos == "word" and lang == "de" and "@" in unit.reading.entry.forms["de"]:
            case = unit.reading.entry.forms["de"].split("@")[1]
            continue
        if pos == "pron" and unit.reading.entry.kind in PERSONS:
            subject = unit
            unit.gender = "f" if unit.en == "she" else "m"
            unit.number = "p" if unit.reading.entry.kind.endswith("p") else "s"
        if pos == "noun":
            unit.number = unit.reading.number
            unit.gender = unit.reading.entry.forms[lang]["g"]
            if case == "nom":
                subject = unit
            case = "nom"
        if pos == "verb":
            case = "acc" if lang == "de" and unit.en not in ("be",) else "nom"
        if pos in ("det", "adj"):
            noun = _head_noun(units, i)
            if noun is not None:
                unit.number = noun.reading.number
                unit.gender = noun.reading.entry.forms[lang]["g"]
                unit.case = case
                unit.det_kind = _determiner_kind(units, i, noun)
                unit.head = noun.reading.entry.forms[lang]["sg"]
            elif pos == "adj":
                unit.predicative = True
                if subject is not None:
                    unit.gender, unit.number = subject.gender, subject.number


def _head_noun(units: list[Unit], i: int) -> Unit | None:
    j = i
    while True:
        j = _neighbour(units, j, 1)
        if j is None:
            return None
        unit = units[j]
        if unit.pos == "noun":
            return unit
        if unit.pos not in ("adj",) and unit.en != "very" and unit.kind != "number":
            return None


def _determiner_kind(units: list[Unit], i: int, noun: Unit) -> str:
    j = i
    while j >= 0:
        if units[j].pos == "det":
            return units[j].reading.entry.kind
        if units[j] is not noun and units[j].pos not in ("adj",) and units[j].en != "very" and j != i:
            break
        j -= 1
    return "none"


def _object_clitics(units: list[Unit], lang: str) -> None:
    for i, unit in enumerate(units):
        if unit.pos == "pron" and unit.reading.entry.kind == "obj":
            verb = _neighbour(units, i, -1)
            if verb is not None and units[verb].pos == "verb":
                form = unit.reading.entry.forms[lang]
                if units[verb].infinitive and lang == "es":
                    units[verb].enclitic = form  # ayudarme
                else:
                    units[verb].clitic = form  # lo veo, je le vois, m'aider
                unit.text = ""


def _adjectives_after_nouns(units: list[Unit], lang: str) -> None:
    """Spanish and French: 'the big red car' -> 'la grande voiture rouge'. Units move, spaces stay put."""
    i = 0
    while i < len(units):
        if units[i].pos != "noun":
            i += 1
            continue
        # The run of adjectives (with their "very") right before this noun.
        start = i
        while start > 0 and (units[start - 1].pos == "adj" or units[start - 1].en == "very") and \
                units[start - 1].text != "" and units[start].space in (" ",):
            start -= 1
        if start == i:
            i += 1
            continue
        run = units[start:i]
        moving = [u for u in run if not _stays_before(u, run, lang)]
        if not moving:
            i += 1
            continue
        staying = [u for u in run if u not in moving]
        order = staying + [units[i]] + moving
        spaces = [u.space for u in units[start : i + 1]]
        starts = units[start].sentence_start
        for k, unit in enumerate(order):
            unit.space = spaces[k]
            unit.sentence_start = starts and k == 0
        units[start : i + 1] = order
        i += 1


def _stays_before(unit: Unit, run: list[Unit], lang: str) -> bool:
    if unit.en == "very":  # goes with the adjective after it
        k = run.index(unit)
        return k + 1 < len(run) and _stays_before(run[k + 1], run, lang)
    return unit.reading.entry.forms[lang]["pre"]


GERMAN_CLAUSE_WORDS = {"und", "oder", "aber", "weil", "dass", "wenn"}


def _modal_before(units: list[Unit], i: int) -> bool:
    k = i - 1
    while k >= 0 and units[k].kind != "punct":
        if units[k].pos == "verb" and units[k].en in MODALS | {"want"} and not units[k].infinitive:
            return True
        k -= 1
    return False


def _german_clause_end(units: list[Unit]) -> None:
    """German sends an infinitive after a modal, and a separable verb's particle, to the end of the clause:
    'ich will eine Fahrkarte kaufen', 'der Agent fasst den Bericht zusammen'."""
    for i, unit in enumerate(units):
        if unit.pos != "verb" or not unit.text:
            continue
        after_modal = unit.infinitive and _modal_before(units, i)
        if after_modal:
            moving, keep = unit.text, ""
        elif " " in unit.text and not unit.infinitive and not unit.negated:
            keep, _, moving = unit.text.partition(" ")
        else:
            continue
        last = i
        k = i + 1
        while k < len(units) and units[k].kind != "punct" and (units[k].text or "").lower() not in GERMAN_CLAUSE_WORDS:
            if units[k].text != "":
                last = k
            k += 1
        if last == i:
            continue
        unit.text = keep
        units[last].text = f"{units[last].text if units[last].text is not None else units[last].source} {moving}"


def _render_target(unit: Unit, lang: str) -> str:
    entry = unit.reading.entry
    forms = entry.forms[lang]
    pos = entry.pos
    if pos == "phrase":
        return forms
    if pos == "word":
        return forms.split("@")[0]
    if pos == "pron":
        if unit.inverted and lang == "fr" and forms:
            return "-" + forms  # "Peux-tu ...?": joined to the verb below
        return forms
    if pos == "noun":
        return forms["pl" if unit.number == "p" else "sg"]
    if pos == "det":
        return _render_determiner(unit, forms, lang)
    if pos == "adj":
        return _render_adjective(unit, forms, lang)
    if pos == "verb":
        return _render_verb(unit, forms, lang)
    return unit.source


def _render_determiner(unit: Unit, forms: dict, lang: str) -> str:
    g, plural = unit.gender, unit.number == "p"
    if lang == "de":
        key = "p" if plural else g
        if unit.case == "dat":
            key = "dat-" + key
        elif unit.case == "acc" and key == "m":
            key = "acc-m"
        return forms.get(key, forms["m"])
    if lang == "es" and not plural and g == "f" and unit.en in ("the", "a", "an") and unit.head in EL_FEMININE:
        return forms["m"]  # el agua, un aula
    return forms[("f" if g == "f" else "m") + ("p" if plural else "")]


def _render_adjective(unit: Unit, forms: dict, lang: str) -> str:
    if lang == "de":
        if unit.predicative:
            return forms["base"]
        return forms["stem"] + _german_ending(unit)
    return forms[("f" if unit.gender == "f" else "m") + ("p" if unit.number == "p" else "")]


def _german_ending(unit: Unit) -> str:
    g = "p" if unit.number == "p" else unit.gender
    if unit.case == "dat":
        return {"m": "em", "n": "em", "f": "er", "p": "en"}[g] if unit.det_kind == "none" else "en"
    if unit.case == "acc" and g == "m":
        return "en"
    if unit.det_kind == "def":
        return "en" if g == "p" else "e"
    if unit.det_kind == "indef":
        return {"m": "er", "f": "e", "n": "es", "p": "en"}[g]
    return {"m": "er", "f": "e", "n": "es", "p": "e"}[g]


def _render_verb(unit: Unit, forms: dict, lang: str) -> str:
    if unit.infinitive or not unit.person:
        verb = forms["inf"] + unit.enclitic
    else:
        verb = forms["present"][PERSONS.index(unit.person)]
        rest = forms["inf"].split(" ", 1)[1] if " " in forms["inf"] and lang == "fr" else ""
        verb = f"{verb} {rest}" if rest else verb
    if unit.clitic:
        verb = f"{unit.clitic} {verb}"
    if unit.negated:
        if lang == "es":
            verb = f"no {verb}"
        elif lang == "fr":
            head, _, tail = verb.partition(" ") if unit.clitic or " " in verb else (verb, "", "")
            if unit.clitic:
                verb = f"ne {verb} pas"
            elif tail:
                verb = f"ne {head} pas {tail}"
            else:
                verb = f"ne {verb} pas"
        else:
            verb = f"{verb} nicht"
    return verb


# -- Spanish, French, German to English ----------------------------------------------------

REVERSE_CONTRACTIONS = {
    "es": {"del": ("de", "el"), "al": ("a", "el")},
    "fr": {"du": ("de", "le"), "au": ("à", "le"), "aux": ("à", "les")},
    "de": {"vom": ("von", "dem"), "zum": ("zu", "dem"), "zur": ("zu", "der"), "im": ("in", "dem"),
           "am": ("an", "dem"), "ins": ("in", "das"), "beim": ("bei", "dem")},
}


def _to_english(text: str, lang: str, lex: Lexicon) -> tuple[str, list[str], int, int]:
    index = lex.rev_index[lang]
    units: list[Unit] = []
    for unit in _tokenize(text):
        if unit.kind == "punct" and unit.source in "¿¡":
            unit.text = ""
            units.append(unit)
            continue
        if unit.kind != "word":
            units.append(unit)
            continue
        lower = unit.source.lower()
        if lower in REVERSE_CONTRACTIONS[lang] and lower not in index:
            first, second = REVERSE_CONTRACTIONS[lang][lower]
            units.append(Unit(unit.space, first if unit.source.islower() else first.capitalize(), "word"))
            units.append(Unit(" ", second, "word"))
            continue
        parts = [unit.source] if lower.replace("’", "'") in index else _split_elision(unit.source, lang)
        units.append(Unit(unit.space, parts[0], "word"))
        units.extend(Unit(" ", part, "word") for part in parts[1:])
    if lang == "fr":  # "peux-tu": the hyphen of an inverted subject goes
        for k in range(1, len(units) - 1):
            if units[k].source == "-" and units[k + 1].space == "" and units[k].space == "" and \
                    units[k + 1].source.lower() in ("je", "tu", "il", "elle", "nous", "vous", "ils", "elles"):
                units[k].text = ""
                units[k + 1].space = " "
    _mark_sentences(units)
    units = _match_phrases(units, lex.rev_phrases[lang], lex.max_rev_phrase[lang])
    for unit in units:
        if unit.kind == "word" and not unit.readings:
            key = unit.source.lower().replace("’", "'")
            if key.endswith("'") and key[:-1] in FRENCH_ELIDED:
                key = FRENCH_ELIDED[key[:-1]]
            unit.readings = index.get(key, [])
    _disambiguate_foreign(units)
    _foreign_negation(units, lang)
    if lang == "de":
        _german_infinitives_forward(units)
    if lang in ("es", "fr"):
        _nouns_before_adjectives(units, lang)
        _clitics_after_verbs(units)
    _english_subjects(units, lang)
    words = total = 0
    unknown: list[str] = []
    for i, unit in enumerate(units):
        if unit.kind != "word":
            continue
        total += 1
        if unit.reading is None and unit.text is None:
            if unit.source not in unknown:
                unknown.append(unit.source)
        else:
            words += 1
            if unit.text is None:
                unit.text = _render_english(units, i)
    out = _join(units, source_lang=lang)
    return _polish(out, "en"), unknown, words, total


def _disambiguate_foreign(units: list[Unit]) -> None:
    for i, unit in enumerate(units):
        if unit.reading or not unit.readings:
            continue
        if len(unit.readings) == 1:
            unit.reading = unit.readings[0]
            continue
        after = _neighbour(units, i, 1)
        nxt = units[after] if after is not None else None
        before = _neighbour(units, i, -1)
        prev = units[before] if before is not None else None
        if unit.has("det") and nxt is not None and (nxt.has("noun") or nxt.has("adj")):
            unit.choose("det")
        elif unit.has("verb") and prev is not None and prev.has("pron") and not unit.has("noun"):
            unit.choose("verb")
        elif unit.has("pron") and nxt is not None and nxt.has("verb"):
            unit.choose("pron")
            if unit.source.lower() == "sie":  # she or they: the verb tells
                verb_person = next((r.person for r in nxt.readings if r.entry.pos == "verb"), "3s")
                unit.reading = next((r for r in unit.readings if r.entry.pos == "pron" and
                                     r.entry.kind == ("3p" if verb_person == "3p" else "3s")), unit.reading)
        else:
            for pos in ("phrase", "noun", "word", "verb", "adj", "pron", "det"):
                if unit.has(pos):
                    unit.choose(pos)
                    break


def _foreign_negation(units: list[Unit], lang: str) -> None:
    for i, unit in enumerate(units):
        word = unit.source.lower().replace("’", "'")
        if lang in ("es", "fr") and word in ("no", "ne", "n'"):
            j = _neighbour(units, i, 1)
            # A clitic may sit between: "no lo veo", "je ne le vois pas".
            if j is not None and units[j].pos == "pron" and units[j].reading.entry.kind == "obj":
                j = _neighbour(units, j, 1)
            if j is not None and units[j].has("verb"):
                units[j].choose("verb")
                units[j].negated = True
                unit.text = ""
                if lang == "fr":
                    k = _neighbour(units, j, 1)
                    if k is not None and units[k].source.lower() in ("pas", "jamais", "plus"):
                        units[k].text = "" if units[k].source.lower() == "pas" else None
        elif lang == "de" and word == "nicht":
            j = _neighbour(units, i, -1)
            if j is not None and units[j].pos == "verb":
                units[j].negated = True
                unit.text = ""


def _german_infinitives_forward(units: list[Unit]) -> None:
    """'wir können dem Kunden helfen' -> 'we can help the customer': the clause-final infinitive
    comes back next to its modal."""
    for i, unit in enumerate(units):
        if unit.pos != "verb" or unit.en not in MODALS | {"want"} or unit.reading.infinitive:
            continue
        k = i + 1
        while k < len(units) and units[k].kind != "punct" and units[k].source.lower() not in GERMAN_CLAUSE_WORDS:
            k += 1
        last = k - 1
        if last <= i + 1 or units[last].kind != "word":
            continue
        if not any(r.entry.pos == "verb" and r.infinitive for r in units[last].readings):
            continue
        infinitive = units[last]
        infinitive.reading = next(r for r in infinitive.readings if r.entry.pos == "verb" and r.infinitive)
        spaces = [u.space for u in units[i + 1 : last + 1]]
        moved = [infinitive, *units[i + 1 : last]]
        for space, u in zip(spaces, moved, strict=True):
            u.space = space
        units[i + 1 : last + 1] = moved


def _nouns_before_adjectives(units: list[Unit], lang: str) -> None:
    """'la voiture rouge' -> 'the red car'. Units move, spaces stay put."""
    i = 0
    while i < len(units):
        if units[i].pos != "noun":
            i += 1
            continue
        end = i
        while end + 1 < len(units) and units[end + 1].pos == "adj" and units[end + 1].space == " " and \
                not units[end + 1].reading.entry.forms[lang].get("pre"):
            end += 1
        if end == i:
            i += 1
            continue
        span = units[i : end + 1]
        order = span[1:] + span[:1]
        spaces = [u.space for u in span]
        starts = span[0].sentence_start
        for k, unit in enumerate(order):
            unit.space = spaces[k]
            unit.sentence_start = starts and k == 0
        units[i : end + 1] = order
        i = end + 1


def _clitics_after_verbs(units: list[Unit]) -> None:
    i = 0
    while i < len(units):
        unit = units[i]
        if unit.pos == "pron" and unit.reading.entry.kind == "obj" and unit.text is None:
            j = _neighbour(units, i, 1)
            if j is not None and units[j].pos == "verb":
                units[j].clitic = unit.en
                unit.text = ""
        i += 1


def _english_subjects(units: list[Unit], lang: str) -> None:
    """Spanish drops subject pronouns ('hablo español'); English needs them back."""
    for i, unit in enumerate(units):
        if unit.pos != "verb" or unit.reading.infinitive or not unit.reading.person:
            continue
        j = _neighbour(units, i, -1)
        prev = units[j] if j is not None else None
        if prev is not None and prev.pos == "verb" and lang != "de":
            unit.infinitive = True
            continue
        unit.person = unit.reading.person
        if prev is not None and prev.pos == "pron" and prev.reading.entry.kind in PERSONS:
            unit.person = prev.reading.entry.kind
            continue
        if prev is not None and prev.pos == "noun":
            unit.person = "3p" if prev.reading.number == "p" else "3s"
            continue
        if prev is not None and prev.pos == "phrase":
            continue
        if lang == "es":
            unit.clitic = ENGLISH_SUBJECTS[unit.person] + ("|" + unit.clitic if unit.clitic else "")


def _render_english(units: list[Unit], i: int) -> str:
    unit = units[i]
    entry = unit.reading.entry
    pos = entry.pos
    if pos == "phrase":
        return entry.en
    if pos == "noun":
        return entry.en_plural if unit.reading.number == "p" else entry.en
    if pos == "det":
        if entry.kind == "indef" and unit.reading.number == "p":
            return "some" if entry.en in ("a", "an") else entry.en
        if entry.en in ("this", "that") and unit.reading.number == "p":
            return {"this": "these", "that": "those"}[entry.en]
        return entry.en
    if pos == "pron":
        return "I" if entry.en == "i" else entry.en
    if pos == "verb":
        subject, object_ = "", ""
        if unit.clitic:
            parts = unit.clitic.split("|")
            if parts[0] in ENGLISH_SUBJECTS.values():
                subject = parts.pop(0)
            object_ = parts[0] if parts else ""
        verb = entry.en
        if unit.reading.infinitive or unit.infinitive:
            j = _neighbour(units, i, -1)
            modal = j is not None and units[j].pos == "verb" and units[j].en in MODALS
            text = verb if modal or j is None or units[j].pos != "verb" else f"to {verb}"
        else:
            person = unit.person or unit.reading.person
            text = _english_present(verb, person, negated=unit.negated)
        if object_:
            text = f"{text} {object_}"
        return f"{subject} {text}" if subject else text
    return entry.en


def _english_present(verb: str, person: str, *, negated: bool) -> str:
    if verb == "be":
        form = {"1s": "am", "3s": "is"}.get(person, "are")
        return f"{form} not" if negated else form
    if verb in MODALS:
        return ("cannot" if verb == "can" else f"{verb} not") if negated else verb
    if negated:
        return f"{'does' if person == '3s' else 'do'} not {verb}"
    return _en_third_person(verb) if person == "3s" else verb


# -- output -----------------------------------------------------------------------------


def _join(units: list[Unit], *, source_lang: str) -> str:
    pieces: list[str] = []
    pending_space: str | None = None
    need_capital = False
    for unit in units:
        # Moved units hand the flag to whatever now stands first, so it marks where each sentence starts.
        starts = unit.kind in ("word", "number") and unit.sentence_start
        text = unit.source if unit.text is None else unit.text
        space = unit.space if pending_space is None else pending_space
        if text == "":
            # A dropped word takes its space with it, except at the start of a sentence, where the
            # next word takes the dropped word's place ("It is cold" -> "Hace frío", not " Hace frío").
            at_start = not pieces or pieces[-1].rstrip()[-1:] in (".", "!", "?", "…", "")
            if at_start and pending_space is None:
                pending_space = unit.space
            if starts:
                need_capital = unit.capital_sentence
            continue
        pending_space = None
        if unit.inverted and text.startswith("-"):
            space = ""
        if starts:
            need_capital = unit.capital_sentence
        if unit.kind == "word":
            text = _apply_case(unit, text, source_lang=source_lang, capital=need_capital)
            need_capital = False
        elif unit.kind == "number":
            need_capital = False
        pieces.append(space + text)
    if pending_space:
        pieces.append(pending_space)
    return "".join(pieces)


def _apply_case(unit: Unit, text: str, *, source_lang: str, capital: bool) -> str:
    source = unit.source
    if sum(ch.isalpha() for ch in source) > 1 and source.isupper():
        return text.upper()
    if unit.reading is None and unit.text is None:
        return text  # an unknown word, exactly as written
    if unit.reading is not None and unit.reading.entry.en[:1].isupper() and not capital:
        return text  # English capitalises it (Monday, French); the target language decides
    if capital or (source[:1].isupper() and not unit.first_word and source_lang != "de" and
                   source.lower() not in ("i",) and unit.pos not in ("pron", "verb", "det", "word", "phrase")):
        return text[:1].upper() + text[1:]
    return text


_ELISION = re.compile(
    r"\b(l[ea]|[jmtsnd]e|qu?e|ce)\s+(?=[aeiouyhàâäéèêëîïôöûùœ])", re.IGNORECASE
)
_FR_CONTRACTIONS = [
    (re.compile(r"\bà les\b", re.I), "aux"), (re.compile(r"\bà le\b", re.I), "au"),
    (re.compile(r"\bde les\b", re.I), "des"), (re.compile(r"\bde le\b", re.I), "du"),
]
_ES_CONTRACTIONS = [(re.compile(r"\bde el\b", re.I), "del"), (re.compile(r"\ba el\b", re.I), "al")]
_DE_CONTRACTIONS = [
    (re.compile(r"\bvon dem\b", re.I), "vom"), (re.compile(r"\bzu dem\b", re.I), "zum"),
    (re.compile(r"\bzu der\b", re.I), "zur"), (re.compile(r"\bin dem\b", re.I), "im"),
    (re.compile(r"\ban dem\b", re.I), "am"), (re.compile(r"\bbei dem\b", re.I), "beim"),
]
_EN_ARTICLE = re.compile(r"\b([Aa]) (?=[aeiouAEIOU])")
_SENTENCE = re.compile(r"(^|(?<=[.!?…\n])\s*)([^.!?…\n]*?)([?!])", re.S)


def _keep_case(replacement: str):
    def sub(match: re.Match) -> str:
        return replacement[:1].upper() + replacement[1:] if match.group(0)[:1].isupper() else replacement

    return sub


def _polish(text: str, lang: str) -> str:
    if lang == "fr":
        for pattern, replacement in _FR_CONTRACTIONS:
            text = pattern.sub(_keep_case(replacement), text)

        def elide(match: re.Match) -> str:
            word = match.group(1)
            short = "qu" if word.lower().startswith("qu") else word[0]
            return short + "'"

        text = _ELISION.sub(elide, text)
    elif lang == "es":
        for pattern, replacement in _ES_CONTRACTIONS:
            text = pattern.sub(_keep_case(replacement), text)
        text = _spanish_marks(text)
    elif lang == "de":
        for pattern, replacement in _DE_CONTRACTIONS:
            text = pattern.sub(_keep_case(replacement), text)
    elif lang == "en":
        text = _EN_ARTICLE.sub(lambda m: m.group(1) + "n ", text)
    return text


def _spanish_marks(text: str) -> str:
    """Open questions and exclamations with ¿ and ¡ (after any leading quote or space)."""
    out, start = [], 0
    for match in re.finditer(r"[?!]+", text):
        end = match.end()
        segment = text[start:end]
        opener = "¿" if match.group(0)[0] == "?" else "¡"
        lead = len(segment) - len(segment.lstrip(" \t\n\"'“«("))
        body = segment[lead:]
        if body and body[0] not in "¿¡":
            segment = segment[:lead] + opener + body
        out.append(segment)
        start = end
    out.append(text[start:])
    return "".join(out)


# -- the public face ---------------------------------------------------------------------

ENGLISH_HINTS = set("the and is are of to in it you that was for on with this have not".split())
LETTER_HINTS = {"es": "ñ¿¡áíóú", "fr": "çœèêàâîôûëï", "de": "ßäöü"}


def detect_language(text: str) -> tuple[str, float]:
    """Which of the four languages `text` is most likely in, and how sure (share of known words)."""
    lex = lexicon()
    tokens = [w.lower() for w in re.findall(r"[^\W\d_]+(?:['’][^\W\d_]+)?", text)]
    if not tokens:
        return "en", 0.0
    scores = {}
    for lang in LANGUAGES:
        if lang == "en":
            hits = sum(1 for t in tokens if t in lex.en_index or t in lex.contractions)
            hits += 0.5 * sum(1 for t in tokens if t in ENGLISH_HINTS)
        else:
            index = lex.rev_index[lang]
            hits = sum(1 for t in tokens if t in index or _split_elision(t, lang)[-1] in index)
        hits += 2 * sum(1 for ch in text.lower() if ch in LETTER_HINTS.get(lang, ""))
        scores[lang] = hits
    best = max(LANGUAGES, key=lambda lang: (scores[lang], lang == "en"))
    return best, round(min(1.0, scores[best] / len(tokens)), 4)


@dataclass
class Translation:
    translation: str
    source_language: str
    target_language: str
    unknown_words: list[str]
    coverage: float
    method: str = "dictionary"
    detected: bool = False
    pivot: str | None = None
    note: str = ""

    def as_result(self) -> dict:
        result = {
            "translation": self.translation,
            "sourceLanguage": self.source_language,
            "targetLanguage": self.target_language,
            "unknownWords": self.unknown_words,
            "coverage": self.coverage,
            "method": self.method,
        }
        if self.detected:
            result["detectedLanguage"] = self.source_language
        if self.pivot:
            result["pivotLanguage"] = self.pivot
        if self.note:
            result["note"] = self.note
        return result


def translate(text: str, *, target: str, source: str | None = None) -> Translation:
    """Translate `text` with the bundled lexicon. `source` is detected when not given."""
    lex = lexicon()
    detected = source is None
    if source is None:
        source, _ = detect_language(text)
    if source not in LANGUAGES or target not in LANGUAGES:
        raise TranslationError(f"Supported languages: {', '.join(sorted(LANGUAGES))}.")
    if source == target:
        return Translation(text, source, target, [], 1.0, method="identity", detected=detected)
    pivot = None
    unknown: list[str] = []
    known = total = 0
    current = text
    steps = [(source, target)] if "en" in (source, target) else [(source, "en"), ("en", target)]
    if len(steps) == 2:
        pivot = "en"
    for src, dst in steps:
        if src == "en":
            current, missing, k, t = _from_english(current, dst, lex)
        else:
            current, missing, k, t = _to_english(current, src, lex)
        if (src, dst) == steps[0]:
            known, total = k, t
        unknown.extend(w for w in missing if w not in unknown)
    coverage = round(known / total, 4) if total else 1.0
    return Translation(current, source, target, unknown, coverage, detected=detected, pivot=pivot)


def llm_configured() -> bool:
    return bool(os.environ.get("TRANSLATOR_LLM_BASE_URL") and os.environ.get("TRANSLATOR_LLM_MODEL"))


def llm_translate(text: str, *, target: str, source: str | None, timeout: float = 20.0) -> str:
    """Ask an OpenAI-compatible chat-completions server for the translation; raises on any failure."""
    base = os.environ["TRANSLATOR_LLM_BASE_URL"].rstrip("/")
    body = {
        "model": os.environ["TRANSLATOR_LLM_MODEL"],
        "temperature": 0,
        "messages": [
            {"role": "system", "content": "You are a translator. Answer with the translation only, nothing else."},
            {"role": "user", "content": f"Translate from {source or 'the detected language'} to {target}:\n\n{text}"},
        ],
    }
    request = urllib.request.Request(
        f"{base}/chat/completions", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )
    if key := os.environ.get("TRANSLATOR_LLM_API_KEY"):
        request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        reply = json.loads(response.read(1 << 20))
    content = reply["choices"][0]["message"]["content"]
    if not isinstance(content, str) or not content.strip():
        raise ValueError("empty answer")
    return content.strip()


