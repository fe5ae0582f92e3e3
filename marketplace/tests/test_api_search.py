"""Ranked full-text search: weighting, typo tolerance (PostgreSQL), snippets, visibility."""

import re

import pytest

from marketplace.tests.factories import listed

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(alice, make_agent):
    listed(created_by=alice, slug="summarizer", name="Summarizer",
           short_description="Condenses long reports into a one-page summary.",
           description="Give it any document and it returns the key points.", skills=["summarization"])
    listed(created_by=alice, slug="invoice-reader", name="Invoice Reader",
           short_description="Extracts totals from invoices.",
           description="Produces a summary table of every invoice line.", business_domain="finance",
           tags=["accounting"], skills=["extraction"])
    listed(created_by=alice, slug="translator", name="Translator",
           short_description="Translates text between 40 languages.", description="Fast and faithful.",
           skills=["translation"], problem_statement="Support teams cannot answer customers in Portuguese.")
    make_agent(created_by=alice, slug="hidden-summarizer", name="Hidden Summarizer")


def ids(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [hit["id"] for hit in response.json()]


def test_name_match_ranks_above_body_match(api, catalog):
    hits = ids(api().get("/api/search?q=summary"))
    assert set(hits) == {"summarizer", "invoice-reader"}
    assert hits[0] == "summarizer"  # "summary" in its short description, not just the body


def test_hits_carry_an_escaped_snippet_with_marks(api, alice, catalog):
    listed(created_by=alice, slug="xss", name="Sneaky", short_description="a summary <b onclick=x>here</b>",
           description="")

    hits = {hit["id"]: hit for hit in api().get("/api/search?q=summary").json()}

    assert "<mark>" in hits["summarizer"]["snippet"]
    # markup in the text never comes through as markup: only <mark> tags are real
    assert "<" not in re.sub(r"</?mark>", "", hits["xss"]["snippet"])
    assert "summary" in hits["xss"]["snippet"]
    assert hits["summarizer"]["score"] > 0


def test_search_covers_problem_statement_domain_and_tags(api, catalog):
    assert ids(api().get("/api/v1/search?q=portuguese")) == ["translator"]
    assert ids(api().get("/api/search?q=accounting")) == ["invoice-reader"]


def test_search_respects_visibility(api, alice, catalog):
    assert "hidden-summarizer" not in ids(api().get("/api/search?q=summarizer"))
    assert "hidden-summarizer" in ids(api(alice).get("/api/search?q=summarizer"))


def test_missing_query_is_400(api):
    response = api().get("/api/search")
    assert response.status_code == 400 and "q" in response.json()["error"]["fields"]


def test_search_is_paginated(api, catalog):
    response = api().get("/api/search?q=summary&limit=1")
    assert len(response.json()) == 1 and response["X-Total-Count"] == "2"


@pytest.mark.postgres
def test_misspelt_query_still_finds_the_agent(api, catalog):
    assert ids(api().get("/api/search?q=sumarizer"))[0] == "summarizer"
    assert ids(api().get("/api/search?q=tranlsator"))[0] == "translator"


@pytest.mark.postgres
def test_stemming_and_weights(api, catalog):
    # "translates" and "translation" share a stem; the name weighs most
    assert ids(api().get("/api/search?q=translating"))[0] == "translator"


@pytest.mark.postgres
def test_search_vector_follows_edits(api, alice, catalog):
    from marketplace.models import Agent

    Agent.objects.filter(slug="translator").update(description="Now also handles Klingon.")
    assert ids(api().get("/api/search?q=klingon")) == ["translator"]


@pytest.mark.postgres
def test_list_search_filter_uses_full_text(api, catalog):
    assert [a["id"] for a in api().get("/api/agents?search=invoices").json()] == ["invoice-reader"]


def test_a_page_past_the_hits_is_empty_but_keeps_the_total(api, catalog):
    response = api().get("/api/search?q=summary&limit=1&offset=5")
    assert response.json() == [] and response["X-Total-Count"] == "2"
    second = api().get("/api/search?q=summary&limit=1&offset=1")
    assert len(second.json()) == 1 and 'rel="prev"' in second["Link"]
