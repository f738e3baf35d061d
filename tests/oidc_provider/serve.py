"""Run the test OpenID provider: ``python -m tests.oidc_provider.serve`` with its environment set.

Environment: PROVIDER_STATE_DIR (a fresh folder), PROVIDER_ISSUER (``http://127.0.0.1:<port>/o``),
PROVIDER_PORT, PROVIDER_CLIENT_ID, PROVIDER_CLIENT_SECRET, PROVIDER_REDIRECT_URI and PROVIDER_PEOPLE: JSON
``{"username": {"email": …, "claims": {…}}}``. Prints ``ready`` once it serves.
"""

import json
import os
import sys
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server


def main():
    state = Path(os.environ["PROVIDER_STATE_DIR"])
    key_file = state / "signing-key.pem"
    if not key_file.exists():
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.oidc_provider.settings"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from oauth2_provider.models import get_application_model

    call_command("migrate", verbosity=0)
    for username, person in json.loads(os.environ["PROVIDER_PEOPLE"]).items():
        get_user_model().objects.update_or_create(
            username=username, defaults={"email": person.get("email", ""),
                                         "last_name": json.dumps(person.get("claims", {}))})
    application = get_application_model()
    application.objects.filter(client_id=os.environ["PROVIDER_CLIENT_ID"]).delete()
    application.objects.create(
        name="smartcity-tracker (test)", client_id=os.environ["PROVIDER_CLIENT_ID"],
        client_secret=os.environ["PROVIDER_CLIENT_SECRET"], client_type=application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=application.GRANT_AUTHORIZATION_CODE, algorithm=application.RS256_ALGORITHM,
        redirect_uris=os.environ["PROVIDER_REDIRECT_URI"], skip_authorization=True,
    )

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = make_server("127.0.0.1", int(os.environ["PROVIDER_PORT"]), get_wsgi_application(),
                         handler_class=QuietHandler)
    print("ready", flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
