"""The accounts settings read from the environment fail loudly, naming the variable."""

import pytest

from agenthub.tests.test_settings import manage, production_env


@pytest.mark.parametrize(("overrides", "named"), [
    ({"TRUSTED_PROXIES": "10.0.0.0/8,not-an-address"}, "TRUSTED_PROXIES"),
    ({"API_THROTTLE_ANON": "lots"}, "API_THROTTLE_ANON"),
    ({"LOGIN_FAILURE_LIMIT": "0"}, "LOGIN_FAILURE_LIMIT"),
    ({"JWT_REFRESH_TOKEN_DAYS": "a week"}, "JWT_REFRESH_TOKEN_DAYS"),
])
def test_a_bad_accounts_setting_stops_the_process_naming_it(tmp_path, overrides, named):
    result = manage("check", env=production_env(tmp_path, **overrides))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and named in result.stderr.strip().splitlines()[-1]


def test_production_throttles_are_on_by_default(tmp_path):
    result = manage("shell", "-c", "from django.conf import settings; "
                    "print(settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'])", env=production_env(tmp_path))

    assert "'anon': '300/minute'" in result.stdout and "'auth': '30/hour'" in result.stdout, result.stderr
