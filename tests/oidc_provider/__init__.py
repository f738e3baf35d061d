"""A tiny, real OpenID provider for the single sign-on tests: django-oauth-toolkit with OIDC enabled.

``serve.py`` runs it in its own process on 127.0.0.1 (``tests/test_oidc_sign_in.py`` starts it): its own
SQLite database, one confidential client using the authorization code flow with PKCE, RS256 ID tokens,
and people whose organisation and role claims the test chooses. A fault file lets a test make the
provider issue a bad ID token (wrong signature, audience, nonce or expiry), as a broken or hostile
provider would.
"""
