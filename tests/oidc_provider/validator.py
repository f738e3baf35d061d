"""Claims from the person's record, and ID tokens spoiled on purpose when the fault file says so."""

import json
import os
import time
from pathlib import Path

from jwcrypto import jwk, jwt
from oauth2_provider.oauth2_validators import OAuth2Validator

FAULT_FILE = Path(os.environ["PROVIDER_STATE_DIR"]) / "fault"


class TestProviderValidator(OAuth2Validator):
    # Claims outside this map are dropped; the relying party's two come with the profile scope.
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "organisation": "profile", "role": "profile"}

    def get_additional_claims(self, request):
        user = request.user
        claims = {"preferred_username": user.username, "email": user.email}
        # The people's claims for the relying party, as the test set them (see serve.py).
        claims.update(json.loads(user.last_name or "{}"))
        return claims

    def finalize_id_token(self, id_token, token, token_handler, request):
        serialized = super().finalize_id_token(id_token, token, token_handler, request)
        fault = FAULT_FILE.read_text().strip() if FAULT_FILE.exists() else ""
        if not fault:
            return serialized
        key = request.client.jwk_key
        claims = json.loads(jwt.JWT(jwt=serialized, key=key).claims)
        signing_key = key
        if fault == "signature":
            signing_key = jwk.JWK.generate(kty="RSA", size=2048)  # not the key the JWKS publishes
        elif fault == "audience":
            claims["aud"] = "another-client"
        elif fault == "nonce":
            claims["nonce"] = "a-nonce-from-another-sign-in"
        elif fault == "expiry":
            claims["iat"], claims["exp"] = int(time.time()) - 7200, int(time.time()) - 3600
        elif fault == "issuer":
            claims["iss"] = "http://127.0.0.1:1/another-provider"
        header = {"typ": "JWT", "alg": "RS256", "kid": key.thumbprint()}
        spoiled = jwt.JWT(header=json.dumps(header), claims=json.dumps(claims))
        spoiled.make_signed_token(signing_key)
        return spoiled.serialize()
