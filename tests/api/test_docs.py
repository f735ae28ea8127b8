"""The OpenAPI schema and the docs pages, served offline (sidecar static files, no CDN)."""

from __future__ import annotations

import re

from django.contrib.staticfiles import finders
from rest_framework.test import APIClient


def test_schema_is_openapi_3_and_public(db):
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/courses/{course_code}/feedback/bulk/" in schema["paths"]
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])


def test_docs_pages_load_every_asset_from_our_own_static_files(db):
    for url in ("/api/docs/", "/api/redoc/"):
        response = APIClient().get(url)
        assert response.status_code == 200
        html = response.content.decode()
        assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', html)
        assert assets, html
        for asset in assets:
            assert asset.startswith("/static/drf_spectacular_sidecar/"), asset
            assert finders.find(asset.removeprefix("/static/")), f"{asset} is not in our static files"
        assert not re.search(r"https?://(?!127\.0\.0\.1|localhost)[^\"']*\.(js|css)", html)
