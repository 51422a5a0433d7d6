"""The fake identity provider the single sign-on tests share (tests/test_web_oidc.py through
Flask's test client, tests/test_web_browser.py in a real browser): a small Flask app serving
discovery, its keys, a login page, the token endpoint and an end_session endpoint, signing ID
tokens with a key made here (joserfc, Authlib's JOSE library). The web front reaches it
through a requests adapter (the ``provider`` fixture in conftest.py): no network. A browser
reaches the same app served over TLS."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from conftest import Env

ISSUER = "https://login.groningen.test/realms/staff"
CLIENT_ID = "casework"
SECRET = "the client secret of casework"

LOGIN_PAGE = """<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><title>Inloggen bij de gemeente</title></head>
<body><main><h1>Inloggen bij de gemeente</h1>
<form method="post"><label for="username">Gebruikersnaam</label>
<input id="username" name="username" autocomplete="username">
<button type="submit">Inloggen</button></form></main></body></html>"""


class FakeProvider:
    """The identity provider: discovery, keys, the authorization step (the test plays the
    person logging in there, with ``authorize`` or in a browser on its ``/auth`` page), the
    token endpoint and an end_session endpoint (named in discovery when a test adds it to
    ``discovery``; ``logouts`` holds the query of each visit). ``claims`` and ``discovery``
    change what it says, to play a broken or hostile provider."""

    def __init__(self) -> None:
        from joserfc.jwk import ECKey

        self.key = ECKey.generate_key("P-256", parameters={"kid": "k1"})
        self.claims: dict[str, Any] = {}
        self.discovery: dict[str, Any] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.logouts: list[dict[str, str]] = []
        self.sign_with: Any = None
        self.up = True
        self.app = self._app()

    def _app(self) -> Any:
        from flask import Flask, abort, jsonify, redirect, request

        app = Flask("fake_idp")

        @app.get("/realms/staff/.well-known/openid-configuration")
        def discovery() -> Any:
            return jsonify({
                "issuer": ISSUER, "authorization_endpoint": ISSUER + "/auth",
                "token_endpoint": ISSUER + "/token", "jwks_uri": ISSUER + "/certs",
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["ES256"],
                "code_challenge_methods_supported": ["S256"], **self.discovery})

        @app.get("/realms/staff/certs")
        def certs() -> Any:
            return jsonify({"keys": [self.key.as_dict(private=False)]})

        @app.route("/realms/staff/auth", methods=["GET", "POST"])
        def auth() -> Any:
            """The provider's login page; the form posts back to this address, query and
            all, and the browser is sent back to casework with a code."""
            if request.method == "GET":
                return LOGIN_PAGE
            back = self.authorize(f"{ISSUER}/auth?{request.query_string.decode()}",
                                  request.form["username"])
            return redirect(f"{request.args['redirect_uri']}?{urlencode(back)}")

        @app.post("/realms/staff/token")
        def token() -> Any:
            expected = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
            if request.headers.get("Authorization") != f"Basic {expected}":
                abort(401)
            grant = self.codes.pop(request.form.get("code", ""), None)
            if grant is None or request.form.get("redirect_uri") != grant["redirect_uri"]:
                return jsonify({"error": "invalid_grant"}), 400
            challenge = base64.urlsafe_b64encode(hashlib.sha256(
                request.form.get("code_verifier", "").encode()).digest()).rstrip(b"=")
            if challenge.decode() != grant["code_challenge"]:
                return jsonify({"error": "invalid_grant"}), 400
            return jsonify({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                            "expires_in": 300, "id_token": self.id_token(grant)})

        @app.get("/realms/staff/logout")
        def logout() -> Any:
            """End the provider's session (it keeps none) and send the browser back."""
            self.logouts.append(request.args.to_dict())
            return redirect(request.args["post_logout_redirect_uri"])

        return app

    def id_token(self, grant: dict[str, Any]) -> str:
        from joserfc import jwt

        now = int(time.time())
        claims = {"iss": ISSUER, "sub": "f3c1-77", "aud": CLIENT_ID, "iat": now,
                  "exp": now + 300, "nonce": grant["nonce"],
                  "preferred_username": grant["user"], **self.claims}
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode({"alg": "ES256", "kid": "k1"}, claims, self.sign_with or self.key)

    def authorize(self, url: str, user: str) -> dict[str, str]:
        """The person logs in at the provider as ``user``: return the query the provider
        sends the browser back with (code and state)."""
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == ISSUER + "/auth"
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert query["client_id"] == CLIENT_ID and query["response_type"] == "code"
        assert query["code_challenge_method"] == "S256"
        assert query["scope"].split()[0] == "openid"
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"nonce": query["nonce"], "redirect_uri": query["redirect_uri"],
                            "code_challenge": query["code_challenge"], "user": user}
        return {"code": code, "state": query["state"]}


class ProviderAdapter:
    """A requests transport that hands each request to the fake provider's WSGI app."""

    def __init__(self, provider: FakeProvider) -> None:
        self.provider = provider

    def send(self, request: Any, **kwargs: Any) -> Any:
        import requests
        from requests.structures import CaseInsensitiveDict

        parts = urlsplit(request.url)
        if not self.provider.up or f"{parts.scheme}://{parts.netloc}" != \
                "https://login.groningen.test":
            raise requests.ConnectionError(f"no route to {parts.netloc}")
        answer = self.provider.app.test_client().open(
            parts.path, method=request.method, query_string=parts.query,
            headers=dict(request.headers), data=request.body)
        response = requests.Response()
        response.status_code = answer.status_code
        response._content = answer.data
        response.headers = CaseInsensitiveDict(answer.headers)
        response.url = request.url
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


def configure(env: Env, extra: str = "") -> None:
    """Set ``[web.oidc]`` for the fake provider in the test's config (and write the secret)."""
    (env.config.parent / "oidc-secret").write_text(SECRET + "\n", encoding="utf-8")
    with env.config.open("a", encoding="utf-8") as fh:
        fh.write(f'\n[web.oidc]\nissuer = "{ISSUER}"\nclient_id = "{CLIENT_ID}"\n'
                 f'client_secret_file = "oidc-secret"\n{extra}')
