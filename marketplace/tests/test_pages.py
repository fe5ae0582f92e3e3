"""The catalog's server-rendered pages."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from marketplace import services
from marketplace.choices import AgentStatus, PricingModel
from marketplace.models import Agent, AgentView
from marketplace.tests.factories import listed

pytestmark = pytest.mark.django_db


def agent_url(agent) -> str:
    return reverse("marketplace:agent_detail", args=[agent.slug])


def form_data(**overrides) -> dict:
    """What a person fills into the create form: lists as lines, tools/KPIs as `a | b` rows."""
    data = {
        "name": "Invoice Reader",
        "short_description": "Reads invoices and extracts the totals.",
        "description": "Extracts vendor, dates and totals from PDF invoices.",
        "business_domain": "finance",
        "problem_statement": "Accounts payable retypes every invoice by hand.",
        "goals": "Cut data entry time\n\nCatch duplicate invoices\n",
        "in_scope": "PDF invoices\nScanned receipts",
        "out_of_scope": "Payments",
        "inputs": "invoice PDF",
        "outputs": "vendor\ntotal\ndue date",
        "tools": "OCR engine | reads scanned pages\nLedger lookup | finds the vendor",
        "skills": "ocr, invoice-extraction\nfinance",
        "tags": "finance, ocr",
        "capabilities": "Reads 40 languages",
        "security_controls": "PII redaction\nEncrypted at rest",
        "kpis": "Accuracy | 99% | 97.5%\nTime per invoice | < 5 s",
        "personas": "AP clerk\nController",
        "requirements": "",
        "version": "1.0.0",
        "transport": "http",
        "endpoint_url": "https://invoices.example.com",
        "entry_point": "",
        "config_schema": '{"type": "object", "properties": {"currency": {"type": "string"}}}',
        "pricing_model": "per_use",
        "price_per_use": "0.25",
        "monthly_price": "",
        "owner": "Finance Ops",
    }
    data.update(overrides)
    return data


# --- Marketplace home --------------------------------------------------------------


def test_home_lists_agents_with_price_rating_and_availability(client, alice):
    listed(created_by=alice, name="Free Helper", pricing_model=PricingModel.FREE, price_per_use=Decimal("0"),
           rating=4.5, rating_count=12)
    listed(created_by=alice, name="Pay Per Use Bot", price_per_use=Decimal("0.05"), load=0.9)
    listed(created_by=alice, name="Monthly Analyst", pricing_model=PricingModel.SUBSCRIPTION,
           price_per_use=Decimal("0"), monthly_price=Decimal("19.00"), availability=False)

    response = client.get(reverse("marketplace:home"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Free Helper" in html and "Pay Per Use Bot" in html and "Monthly Analyst" in html
    assert "0.05 BB / use" in html and "19.00 BB / month" in html and ">Free<" in html
    assert "4.5" in html and "(12)" in html
    assert "badge--available" in html and "badge--busy" in html and "badge--offline" in html


def test_home_hides_drafts_even_from_their_owner(client, alice):
    listed(created_by=alice, name="Listed One")
    Agent.objects.create(created_by=alice, slug="secret-draft", name="Secret Draft")
    client.force_login(alice)

    html = client.get(reverse("marketplace:home")).content.decode()

    assert "Listed One" in html
    assert "Secret Draft" not in html


def test_search_finds_an_agent_and_highlights_the_match(client, alice):
    listed(created_by=alice, name="Contract Reviewer", short_description="Flags risky clauses in contracts.")
    listed(created_by=alice, name="Image Tagger", short_description="Labels photos.",
           description="Tags images.", skills=["vision"])

    response = client.get(reverse("marketplace:home"), {"q": "contract"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "Contract Reviewer" in html
    assert "Image Tagger" not in html
    assert re.search(r"<mark>contracts?</mark>", html.lower())  # PostgreSQL highlights the stemmed word
    assert "1 result for" in html


def test_search_escapes_the_description_around_the_highlight(client, alice):
    listed(created_by=alice, name="Escaper", short_description="<script>alert(1)</script> parses markdown")

    html = client.get(reverse("marketplace:home"), {"q": "markdown"}).content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "<mark>markdown</mark>" in html
    # SQLite's snippet escapes the markup; PostgreSQL's ts_headline drops it: neither lets it through
    snippet = html[html.index("<mark>markdown</mark>") - 80 : html.index("<mark>markdown</mark>")]
    assert "<script" not in snippet


@pytest.mark.parametrize(
    ("params", "expected", "excluded"),
    [
        ({"domain": "finance"}, "Ledger Bot", "Copy Writer"),
        ({"skills": "copywriting"}, "Copy Writer", "Ledger Bot"),
        ({"pricing_model": "free"}, "Copy Writer", "Ledger Bot"),
        ({"min_rating": "4"}, "Ledger Bot", "Copy Writer"),
        ({"availability": "true"}, "Ledger Bot", "Copy Writer"),
    ],
)
def test_filters(client, alice, params, expected, excluded):
    listed(created_by=alice, name="Ledger Bot", business_domain="finance", skills=["bookkeeping"], rating=4.6)
    listed(created_by=alice, name="Copy Writer", business_domain="marketing", skills=["copywriting"], rating=3.1,
           pricing_model=PricingModel.FREE, price_per_use=Decimal("0"), availability=False)

    html = client.get(reverse("marketplace:home"), params).content.decode()

    assert expected in html
    assert excluded not in html


def test_sorting_and_pagination(client, alice):
    for n in range(14):
        listed(created_by=alice, name=f"Agent {n:02d}", price_per_use=Decimal(n + 1))

    first = client.get(reverse("marketplace:home"), {"ordering": "-price"}).content.decode()
    second = client.get(reverse("marketplace:home"), {"ordering": "-price", "page": "2"}).content.decode()

    assert first.index("Agent 13") < first.index("Agent 12")
    assert "Agent 00" not in first and "Agent 00" in second
    assert "ordering=-price&amp;page=2" in first  # pagination keeps the sort


def test_bad_filter_values_do_not_break_the_page(client, alice):
    listed(created_by=alice, name="Sturdy")

    response = client.get(reverse("marketplace:home"), {"min_rating": "lots", "page": "999", "ordering": "bogus"})

    assert response.status_code == 200
    assert "Sturdy" in response.content.decode()


# --- Agent detail -------------------------------------------------------------------


def test_detail_shows_every_catalog_field(client, alice):
    agent = listed(
        created_by=alice, name="Risk Radar", problem_statement="Risks are found too late.",
        goals=["Spot risk early"], in_scope=["Supplier contracts"], out_of_scope=["Legal advice"],
        operational_details="Runs nightly.", inputs=["contract text"], outputs=["risk score"],
        tools=[{"name": "Clause index", "description": "finds clauses"}], security_controls=["SOC 2"],
        kpis=[{"name": "Recall", "target": "95%", "current": "91%"}], personas=["Procurement lead"],
        version="2.1.0", jobs_completed=321, avg_response_time=850, load=0.25, view_count=0,
    )

    response = client.get(agent_url(agent))

    html = response.content.decode()
    assert response.status_code == 200
    for text in ("Risk Radar", "Risks are found too late.", "Spot risk early", "Supplier contracts", "Legal advice",
                 "Runs nightly.", "contract text", "risk score", "Clause index", "finds clauses", "SOC 2",
                 "Recall", "95%", "91%", "Procurement lead", "2.1.0", "321", "850 ms", "25%", "Available",
                 "0.05 BB / use"):
        assert text in html, text
    assert '<dd data-testid="view-count">1</dd>' in html


def test_detail_records_one_view_per_session_per_30_minutes(client, alice, eve):
    agent = listed(created_by=alice)

    client.get(agent_url(agent))
    client.get(agent_url(agent))  # same session, same half hour: not counted again
    assert AgentView.objects.filter(agent=agent).count() == 1

    AgentView.objects.filter(agent=agent).update(viewed_at=timezone.now() - timedelta(minutes=31))
    client.get(agent_url(agent))  # the same session, later: counted
    assert AgentView.objects.filter(agent=agent).count() == 2

    other = client.__class__()
    other.force_login(eve)
    other.get(agent_url(agent))  # another session: counted, with its user
    agent.refresh_from_db()
    assert agent.view_count == 3
    assert AgentView.objects.filter(agent=agent, user=eve).count() == 1


def test_a_draft_is_404_for_others_and_visible_to_its_owner(client, alice, bob):
    draft = Agent.objects.create(created_by=bob, slug="bobs-draft", name="Bob's Draft")

    client.force_login(alice)
    assert client.get(agent_url(draft)).status_code == 404
    client.logout()
    assert client.get(agent_url(draft)).status_code == 404

    client.force_login(bob)
    response = client.get(agent_url(draft))
    assert response.status_code == 200
    assert "Submit for review" in response.content.decode()


def test_review_decisions_are_shown_to_the_owner_only(client, alice, bob, carol):
    agent = listed(created_by=bob, status=AgentStatus.DRAFT, is_public=False)
    services.agent_submit(agent=agent, user=bob)
    services.agent_reject(agent=agent, reviewer=carol, reason="The endpoint returns 500s.")
    agent.refresh_from_db()
    agent.status, agent.is_public = AgentStatus.ACTIVE, True  # listed again later (shortcut for the test)
    agent.save()

    client.force_login(bob)
    owner_view = client.get(agent_url(agent)).content.decode()
    client.force_login(alice)
    stranger_view = client.get(agent_url(agent)).content.decode()

    assert "The endpoint returns 500s." in owner_view
    assert "carol" in owner_view
    assert "The endpoint returns 500s." not in stranger_view


# --- Creators -----------------------------------------------------------------------


def test_my_agents_needs_login(client):
    response = client.get(reverse("marketplace:my_agents"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_my_agents_lists_only_mine_with_status(client, alice, bob):
    Agent.objects.create(created_by=alice, slug="alice-draft", name="Alice Draft")
    listed(created_by=alice, name="Alice Live")
    listed(created_by=bob, name="Bob Live")
    client.force_login(alice)

    html = client.get(reverse("marketplace:my_agents")).content.decode()

    assert "Alice Draft" in html and "Alice Live" in html
    assert "Bob Live" not in html
    assert "badge--status-draft" in html and "badge--status-active" in html


def test_create_form_turns_lines_into_lists(client, alice):
    client.force_login(alice)

    response = client.post(reverse("marketplace:agent_create"), form_data())

    agent = Agent.objects.get(name="Invoice Reader")
    assert response.status_code == 302
    assert response["Location"] == reverse("marketplace:agent_edit", args=[agent.slug])
    assert agent.created_by == alice and agent.status == AgentStatus.DRAFT
    assert agent.slug == "invoice-reader"
    assert agent.goals == ["Cut data entry time", "Catch duplicate invoices"]
    assert agent.in_scope == ["PDF invoices", "Scanned receipts"]
    assert agent.outputs == ["vendor", "total", "due date"]
    assert agent.skills == ["ocr", "invoice-extraction", "finance"]
    assert agent.tags == ["finance", "ocr"]
    assert agent.tools == [{"name": "OCR engine", "description": "reads scanned pages"},
                           {"name": "Ledger lookup", "description": "finds the vendor"}]
    assert agent.kpis == [{"name": "Accuracy", "target": "99%", "current": "97.5%"},
                          {"name": "Time per invoice", "target": "< 5 s", "current": ""}]
    assert agent.config_schema == {"type": "object", "properties": {"currency": {"type": "string"}}}
    assert agent.price_per_use == Decimal("0.25") and agent.monthly_price == 0
    assert agent.email == "alice@example.com"  # filled by the service when left blank


def test_edit_form_shows_lists_as_lines_and_saves_changes(client, alice):
    agent = Agent.objects.create(created_by=alice, slug="liner", name="Liner", goals=["one", "two"],
                                 tools=[{"name": "grep", "description": "finds text"}])
    client.force_login(alice)

    page = client.get(reverse("marketplace:agent_edit", args=[agent.slug])).content.decode()
    response = client.post(reverse("marketplace:agent_edit", args=[agent.slug]),
                           form_data(name="Liner", goals="one\ntwo\nthree"))

    assert "one\ntwo</textarea>" in page
    assert "grep | finds text</textarea>" in page
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.goals == ["one", "two", "three"]
    assert agent.slug == "liner"


def test_bad_json_and_bad_rows_are_form_errors(client, alice):
    client.force_login(alice)

    response = client.post(reverse("marketplace:agent_create"), form_data(
        config_schema='{"type": "object",', kpis="Accuracy", tags="has space",
    ))

    html = response.content.decode()
    assert response.status_code == 400
    assert "Not valid JSON (line 1" in html
    assert "Line 1 needs a target." in html
    assert "is not a valid tag" in html
    assert not Agent.objects.exists()


def test_a_taken_id_is_a_form_error_not_a_500(client, alice, bob):
    Agent.objects.create(created_by=bob, slug="taken", name="Taken")
    client.force_login(alice)

    response = client.post(reverse("marketplace:agent_create"), form_data(slug="taken"))

    assert response.status_code == 400
    assert "already exists" in response.content.decode()


def test_submitting_an_invalid_agent_shows_field_errors(client, alice):
    agent = Agent.objects.create(created_by=alice, slug="half-done", name="Half Done", version="one",
                                 pricing_model=PricingModel.PER_USE, endpoint_url="http://10.0.0.5/")
    client.force_login(alice)

    response = client.post(reverse("marketplace:agent_submit", args=[agent.slug]))

    html = response.content.decode()
    assert response.status_code == 400
    agent.refresh_from_db()
    assert agent.status == AgentStatus.DRAFT
    assert {error["field"] for error in agent.validation_errors} >= {"description", "skills", "version"}
    # each problem next to its field, and the stored list on the page
    assert 'id="field-version"' in html and "is not a semantic version" in html
    assert "Name at least one skill" in html
    assert "A per-use agent needs a price per use above 0." in html
    assert 'data-testid="validation-errors"' in html


def test_save_and_submit_sends_a_valid_agent_to_review(client, alice):
    client.force_login(alice)

    response = client.post(reverse("marketplace:agent_create"),
                           form_data(endpoint_url="http://127.0.0.1:8001", submit="1"))

    assert response.status_code == 302
    assert response["Location"] == reverse("marketplace:my_agents")
    agent = Agent.objects.get(name="Invoice Reader")
    assert agent.status == AgentStatus.SUBMITTED
    assert agent.versions.count() == 1


def test_create_and_submit_keeps_the_draft_and_shows_what_to_fix(client, alice):
    client.force_login(alice)

    response = client.post(reverse("marketplace:agent_create"),
                           form_data(endpoint_url="http://169.254.169.254/latest", submit="1"))

    html = response.content.decode()
    agent = Agent.objects.get(name="Invoice Reader")
    assert response.status_code == 400
    assert agent.status == AgentStatus.DRAFT
    assert reverse("marketplace:agent_edit", args=[agent.slug]) in html  # the form now edits the saved draft
    assert "resolves to an internal address" in response.context["form"].errors["endpoint_url"][0]


def test_editing_an_agent_under_review_is_refused_with_a_message(client, alice):
    agent = listed(created_by=alice, status=AgentStatus.SUBMITTED, is_public=False)
    client.force_login(alice)

    response = client.post(reverse("marketplace:agent_edit", args=[agent.slug]), form_data(name="Changed"))

    assert response.status_code == 400
    assert "under review" in response.content.decode()
    agent.refresh_from_db()
    assert agent.name != "Changed"


def test_someone_elses_agent_cannot_be_edited_or_submitted(client, alice, bob):
    mine = listed(created_by=bob, name="Bob Public")
    client.force_login(alice)

    assert client.get(reverse("marketplace:agent_edit", args=[mine.slug])).status_code == 404
    assert client.post(reverse("marketplace:agent_submit", args=[mine.slug])).status_code == 404
    assert client.post(reverse("marketplace:agent_set_live", args=[mine.slug]),
                       {"action": "deactivate"}).status_code == 404


def test_live_agents_keep_reviewed_fields_read_only(client, alice):
    agent = listed(created_by=alice, name="Live One", version="1.0.0", skills=["a"], description="d")
    client.force_login(alice)

    response = client.post(reverse("marketplace:agent_edit", args=[agent.slug]),
                           form_data(name="Live One Renamed", version="9.9.9", price_per_use="99"))

    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.name == "Live One Renamed"
    assert agent.version == "1.0.0" and agent.price_per_use == Decimal("0.05")


def test_owner_can_take_an_agent_off_the_market(client, alice):
    agent = listed(created_by=alice)
    client.force_login(alice)

    response = client.post(reverse("marketplace:agent_set_live", args=[agent.slug]), {"action": "deactivate"})

    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.status == AgentStatus.INACTIVE


# --- Analytics pages ------------------------------------------------------------------


def test_trending_page_has_chart_data(client, alice):
    agent = listed(created_by=alice, name="Hot Agent")
    services.agent_view_record(agent=agent, session_id="s1")
    services.agent_view_record(agent=agent, session_id="s2")

    response = client.get(reverse("marketplace:trending"), {"days": "30"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "Hot Agent" in html
    assert 'id="trending-data"' in html and "vendor/chart.js/chart.umd.min.js" in html
    assert response.context["chart"]["views"] == [2]


def test_domains_page_has_chart_data(client, alice):
    listed(created_by=alice, business_domain="finance")
    listed(created_by=alice, business_domain="finance")
    listed(created_by=alice, business_domain="legal")

    response = client.get(reverse("marketplace:domains"))

    assert response.status_code == 200
    assert 'id="domain-data"' in response.content.decode()
    assert response.context["chart"]["labels"] == ["Finance", "Legal"]
    assert response.context["chart"]["counts"] == [2, 1]


def test_nav_shows_admin_to_staff_only(client, alice, dave):
    client.force_login(alice)
    assert "/admin/" not in client.get(reverse("marketplace:home")).content.decode()
    client.force_login(dave)
    assert "/admin/" in client.get(reverse("marketplace:home")).content.decode()


def test_chart_library_is_vendored():
    from django.contrib.staticfiles import finders

    assert finders.find("vendor/chart.js/chart.umd.min.js")
    assert finders.find("css/app.css")
