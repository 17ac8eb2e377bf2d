"""GraphiQL's assets ship in the package: each file matches its manifest hash and strawberry's CDN integrity, and the
page refers to nothing outside the server."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

import strawberry

from server import graphiql

STRAWBERRY_PAGE = Path(strawberry.__file__).parent / "static" / "graphiql.html"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"


class Refs(HTMLParser):
    """Every src/href of a page, with its tag's integrity attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            if values.get(name):
                self.refs.append((tag, values[name], values.get("integrity")))


def refs_of(page: str) -> list[tuple[str, str, str | None]]:
    parser = Refs()
    parser.feed(page)
    return parser.refs


def test_every_manifest_hash_matches_its_file_and_every_file_is_listed():
    files = {p.name for p in graphiql.ASSETS.iterdir()} - {"manifest.json"}

    assert set(graphiql.manifest()) == files
    for name, entry in graphiql.manifest().items():
        assert hashlib.sha256((graphiql.ASSETS / name).read_bytes()).hexdigest() == entry["sha256"], name


def test_the_assets_are_the_versions_strawberrys_cdn_page_loads_byte_for_byte():
    cdn = dict(
        re.findall(r'(?:src|href)="https://unpkg\.com/([^"]+)"\s+integrity="([^"]+)"', STRAWBERRY_PAGE.read_text())
    )
    ours = {f"{e['package']}/{e['source']}": name for name, e in graphiql.manifest().items()}

    # js-cookie only reads Django's CSRF cookie, which rdflow does not use.
    assert set(cdn) - set(ours) == {"js-cookie@3.0.5/dist/js.cookie.min.js"}
    for url, name in ours.items():
        sha384 = base64.b64encode(hashlib.sha384((graphiql.ASSETS / name).read_bytes()).digest()).decode()
        assert cdn[url] == f"sha384-{sha384}", name


def test_the_page_loads_every_asset_from_the_server_with_its_integrity_and_nothing_else():
    page = graphiql.page()
    refs = refs_of(page)
    assets = {href: sri for _, href, sri in refs if not href.startswith("data:")}

    assert assets == {
        f"/static/graphiql/{name}": graphiql.integrity(e["sha256"]) for name, e in graphiql.manifest().items()
    }
    # The favicon's SVG names its XML namespace; no other URL appears anywhere in the page.
    assert not re.search(r"https?://|\bsrc=[\"']?//|\bhref=[\"']?//", page.replace(SVG_NAMESPACE, ""))


def test_the_page_never_keeps_the_token_in_local_storage():
    page = graphiql.page()

    assert "localStorage." not in page
    assert "shouldPersistHeaders: false" in page
    assert 'authorization: "Bearer " + token' in page
