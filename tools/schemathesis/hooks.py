"""Schemathesis auth hooks for secworks' token API (loaded through schemathesis.toml).

Each operation gets the credentials of its own security scheme:

- createToken (POST /graphql/tokens, `basicAuth`): HTTP Basic with the default user.
- exportLookups (GET /export/lookups, `bearerAuth`): a bearer token issued once and kept.
- revokeToken (DELETE /graphql/tokens, `bearerAuth`): a bearer token issued just for that test
  case. The operation revokes the very token it is called with, so no static token can serve a
  whole run: after the first 204 every later request would carry a dead token and only ever
  test the 401 path.

Both live here rather than in `[auth.openapi.*]` of schemathesis.toml because Schemathesis drops
hook-registered auth whenever the config file defines any auth, and the bearer token has to be
fetched with Basic credentials, which its config-only dynamic token fetch cannot send.
Schemathesis leaves out these providers where a negative test case removes or corrupts the
credentials, and the `ignored_auth` check strips them itself to prove they are enforced.
"""

import base64
import os

import requests
import schemathesis

USERNAME = os.environ["SECWORKS_USERNAME"]
PASSWORD = os.environ["SECWORKS_PASSWORD"]
BASIC = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode("ascii")


def _set_authorization(case, value):
    case.headers = case.headers or {}
    case.headers["Authorization"] = value


# refresh_interval=None: called for every test case, nothing cached, no automatic re-login.
@schemathesis.auth(refresh_interval=None).apply_to(operation_id="createToken")
class BasicCredentials:
    """The default user's name and password, for createToken."""

    def get(self, case, ctx):
        return BASIC

    def set(self, case, data, ctx):
        _set_authorization(case, data)


def _login(ctx):
    url = ctx.operation.schema.get_base_url().rstrip("/") + "/graphql/tokens"
    response = requests.post(url, headers={"Authorization": BASIC}, timeout=10)
    if response.status_code != 200:
        raise RuntimeError(
            f"login for a bearer token failed: POST {url} answered {response.status_code}"
        )
    return "Bearer " + response.json()["token"]


# Kept for 10 minutes (tokens live an hour): exports do not revoke the token they are sent with.
@schemathesis.auth(refresh_interval=600).apply_to(operation_id="exportLookups")
class KeptBearerToken:
    """A bearer token for exportLookups."""

    def get(self, case, ctx):
        return _login(ctx)

    def set(self, case, data, ctx):
        _set_authorization(case, data)


@schemathesis.auth(refresh_interval=None).apply_to(operation_id="revokeToken")
class FreshBearerToken:
    """A newly issued bearer token for each request to revokeToken."""

    def get(self, case, ctx):
        return _login(ctx)

    def set(self, case, data, ctx):
        _set_authorization(case, data)
