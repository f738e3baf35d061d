"""Settings of the server the benchmark starts: the production settings plus the floor endpoint's URL.

The floor (``views.FloorWriteView``) exists only under this settings module, so a deployment never
serves it and the OpenAPI spec never lists it.
"""

from smartcity.settings import *  # noqa: F401,F403 - everything as in production

ROOT_URLCONF = "pilots.benchmark.urls"
