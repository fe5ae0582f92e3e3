"""Uploading a hosted agent's package: the zip's SHA-256 becomes the code hash a reviewer signs off."""

import hashlib
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from marketplace.models import Agent, AgentPackage
from marketplace.tests.factories import agent_make, listed

pytestmark = pytest.mark.django_db


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


PACKAGE = zip_of({"main.py": "def main(input):\n    return {'ok': True}\n"})


def upload(api, user, slug, content=PACKAGE, name="agent.zip"):
    return api(user).post(f"/api/agents/{slug}/package", {"file": SimpleUploadedFile(name, content)},
                          format="multipart")


@pytest.fixture
def draft(alice):
    return agent_make(created_by=alice, slug="hosted-one", transport="hosted", endpoint_url="",
                      entry_point="main.py:main")


def test_upload_sets_the_code_hash_and_keeps_the_zip(api, alice, draft):
    response = upload(api, alice, "hosted-one")

    assert response.status_code == 201, response.json()
    sha = hashlib.sha256(PACKAGE).hexdigest()
    assert response.json()["codeHash"] == sha and response.json()["transport"] == "hosted"
    package = AgentPackage.objects.get(agent=draft)
    assert package.sha256 == sha and bytes(package.content) == PACKAGE and package.size == len(PACKAGE)
    assert upload(api, alice, "hosted-one").status_code == 201  # the same zip again: still one row
    assert AgentPackage.objects.count() == 1


def test_submission_needs_the_package_and_its_entry_module(api, alice, draft):
    response = api(alice).post("/api/agents/hosted-one/submit")
    assert response.status_code == 400
    assert "code_hash" in response.json()["error"]["fields"] or "codeHash" in response.json()["error"]["fields"]

    upload(api, alice, "hosted-one", content=zip_of({"other.py": "x = 1\n"}))
    response = api(alice).post("/api/agents/hosted-one/submit")
    assert response.status_code == 400
    assert "The package has no main.py." in str(response.json()["error"]["fields"])

    upload(api, alice, "hosted-one")
    assert api(alice).post("/api/agents/hosted-one/submit").status_code == 200


def test_bad_uploads_are_refused(api, alice, bob, draft):
    response = upload(api, alice, "hosted-one", content=b"not a zip at all")
    assert response.status_code == 400 and "file" in response.json()["error"]["fields"]
    assert api(alice).post("/api/agents/hosted-one/package", {}, format="multipart").status_code == 400
    assert upload(api, bob, "hosted-one").status_code == 404  # someone else's draft does not exist for bob
    assert not AgentPackage.objects.exists()
    assert Agent.objects.get(pk=draft.pk).code_hash == ""


def test_a_live_agent_cannot_swap_its_package_without_review(api, alice, bob):
    listed(created_by=alice, slug="live-hosted", transport="hosted", entry_point="main.py:main", code_hash="a" * 64)
    response = upload(api, alice, "live-hosted")
    assert response.status_code == 409
    assert upload(api, bob, "live-hosted").status_code == 403
    assert not AgentPackage.objects.exists()
