"""GET /graphql in a browser is GraphiQL from the server's own assets (immutable, integrity-checked), only in
development."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

from cryptography.fernet import Fernet

from tests.api import Api
from tests.e2e.conftest import running_api, sqlite_settings

ASSET = re.compile(r'(?:src|href)="(/static/graphiql/[^"]+)" integrity="sha256-([^"]+)"')


async def test_graphiql_loads_only_the_servers_own_assets_each_matching_its_integrity(sqlite_api: Api):
    page = await sqlite_api.client.get("/graphql", headers={"accept": "text/html"})
    assets = ASSET.findall(page.text)

    assert page.status_code == 200 and "GraphiQL" in page.text
    assert "unpkg.com" not in page.text and len(assets) == 6
    for path, digest in assets:
        served = await sqlite_api.client.get(path)
        assert served.status_code == 200, path
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert served.headers["content-type"].startswith(("text/javascript", "text/css"))
        assert base64.b64encode(hashlib.sha256(served.content).digest()).decode() == digest, path


async def test_only_the_manifests_files_are_served(sqlite_api: Api):
    for path in ("/static/graphiql/manifest.json", "/static/graphiql/nope.js", "/static/graphiql.html"):
        assert (await sqlite_api.client.get(path)).status_code == 404, path


async def test_production_serves_neither_the_page_nor_its_assets(tmp_path):
    settings = sqlite_settings(
        tmp_path,
        "prod",
        env="production",
        jwt_secret=secrets.token_urlsafe(48),
        fernet_key=Fernet.generate_key().decode(),
    )
    async with running_api(settings) as api:
        page = await api.client.get("/graphql", headers={"accept": "text/html"})
        asset = await api.client.get("/static/graphiql/react-18.2.0.production.min.js")

    assert "graphiql" not in page.text.lower()
    assert asset.status_code == 404
