"""Settings come from the environment, and a wrong value stops the process naming the variable."""

import os
import re
import secrets
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from agenthub.env import env_bool, env_choice, env_decimal, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parents[2]


# --- The helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("YES", True), (" 1 ", True), ("on", True),
                                               ("false", False), ("0", False), ("off", False), ("", False)])
def test_env_bool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("AGENTHUB_TEST_FLAG", raw)

    assert env_bool("AGENTHUB_TEST_FLAG", not expected) is expected


def test_unset_variables_take_their_default(monkeypatch):
    monkeypatch.delenv("AGENTHUB_TEST_UNSET", raising=False)

    assert env_bool("AGENTHUB_TEST_UNSET", True) is True
    assert env_int("AGENTHUB_TEST_UNSET", 7) == 7
    assert env_decimal("AGENTHUB_TEST_UNSET", "2.5") == Decimal("2.5")
    assert env_str("AGENTHUB_TEST_UNSET", "fallback") == "fallback"
    assert env_list("AGENTHUB_TEST_UNSET", ["a"]) == ["a"]
    assert env_choice("AGENTHUB_TEST_UNSET", "INFO", ["INFO", "DEBUG"]) == "INFO"


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("AGENTHUB_TEST_LIST", " a.example.com, ,b.example.com,")

    assert env_list("AGENTHUB_TEST_LIST") == ["a.example.com", "b.example.com"]


def test_env_choice_is_case_insensitive_and_returns_the_canonical_spelling(monkeypatch):
    monkeypatch.setenv("AGENTHUB_TEST_LEVEL", "warning")

    assert env_choice("AGENTHUB_TEST_LEVEL", "INFO", ["INFO", "WARNING"]) == "WARNING"


@pytest.mark.parametrize(
    ("raw", "read"),
    [
        ("maybe", lambda: env_bool("AGENTHUB_TEST_VALUE", False)),
        ("ten", lambda: env_int("AGENTHUB_TEST_VALUE", 1)),
        ("1.5", lambda: env_int("AGENTHUB_TEST_VALUE", 1)),
        ("-3", lambda: env_int("AGENTHUB_TEST_VALUE", 1, minimum=0)),
        ("ten percent", lambda: env_decimal("AGENTHUB_TEST_VALUE", "10")),
        ("NaN", lambda: env_decimal("AGENTHUB_TEST_VALUE", "10")),
        ("Infinity", lambda: env_decimal("AGENTHUB_TEST_VALUE", "10")),
        ("LOUD", lambda: env_choice("AGENTHUB_TEST_VALUE", "INFO", ["INFO", "DEBUG"])),
    ],
)
def test_malformed_values_fail_loudly_naming_the_variable(monkeypatch, raw, read):
    monkeypatch.setenv("AGENTHUB_TEST_VALUE", raw)

    with pytest.raises(ImproperlyConfigured, match="AGENTHUB_TEST_VALUE") as caught:
        read()
    assert repr(raw) in str(caught.value) or raw.lstrip("-") in str(caught.value)


def test_a_required_string_names_itself_when_missing(monkeypatch):
    monkeypatch.delenv("AGENTHUB_TEST_REQUIRED", raising=False)

    with pytest.raises(ImproperlyConfigured, match="AGENTHUB_TEST_REQUIRED must be set"):
        env_str("AGENTHUB_TEST_REQUIRED")


# --- The settings module, as a production process loads it -----------------------------------


def production_env(tmp_path, **overrides: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="agenthub.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="agenthub.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'check.sqlite3'}",
        STATIC_ROOT=str(tmp_path / "static"),
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def test_deploy_check_passes_with_production_values(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"DATABASE_URL": "mysqll://nowhere"}, "DATABASE_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"MAX_REQUEST_BODY_BYTES": "1MB"}, "MAX_REQUEST_BODY_BYTES"),
        ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL"),
    ],
)
def test_a_bad_production_setting_stops_the_process_naming_it(tmp_path, overrides, named):
    result = manage("check", env=production_env(tmp_path, **overrides))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr.strip().splitlines()[-1]


def test_collectstatic_works_for_production(tmp_path):
    # Production serves hashed, compressed files (whitenoise's manifest storage), which fails on a
    # stylesheet that refers to a missing file: better here than during a deploy.
    result = manage("collectstatic", "--noinput", env=production_env(tmp_path))

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert (tmp_path / "static" / "staticfiles.json").exists()


def test_the_readme_documents_every_environment_variable():
    settings_source = (BASE_DIR / "agenthub" / "settings.py").read_text()
    readme = (BASE_DIR / "README.md").read_text()
    read = set(re.findall(r'\benv_\w+\(\s*"([A-Z][A-Z0-9_]*)"', settings_source))

    assert read >= {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"}
    assert sorted(name for name in read if f"| `{name}` |" not in readme) == []
