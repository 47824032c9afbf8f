"""Signed evidence links: the links in webhook messages and daily reports open their one file
without a login, until they expire; an expired or altered link is refused with 403."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from serving.db.base import utcnow
from serving.db.models import OutboxMessage
from serving.services.links import EvidenceLinks
from tests.serving.helpers import Api, make_settings, png_bytes, upload

BASE = "http://shirong.test"


def stored(api: Api, seed: int = 1) -> tuple[str, bytes]:
    data = png_bytes(color=(seed, 40, 90))
    response = upload(api, data)
    assert response.status_code in (200, 201), response.text
    return response.json()["sha256"], data


def link(api: Api, sha256: str, made_hours_ago: float = 0) -> str:
    """The link's path and query as webhooks and reports write it, made some hours ago."""
    made = utcnow() - timedelta(hours=made_hours_ago)
    url = EvidenceLinks.of(api.services.settings, made).url(sha256)
    assert url.startswith(f"{BASE}/evidence/{sha256}/signed?exp=")
    return url.removeprefix(BASE)


def refused(api: Api, path: str, code: str) -> str:
    response = api.client.get(path)  # no Authorization header
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["code"] == code, body
    return str(body["detail"])


def test_a_signed_link_opens_its_file_without_a_login_as_the_download_serves_it(api: Api) -> None:
    sha, data = stored(api)
    opened = api.client.get(link(api, sha))
    assert opened.status_code == 200, opened.text
    assert opened.content == data
    logged_in = api.client.get(f"/evidence/{sha}", headers=api.admin.headers)
    for header in ("content-type", "x-content-type-options", "content-security-policy"):
        assert opened.headers[header] == logged_in.headers[header], header
    assert opened.headers["x-content-type-options"] == "nosniff"
    assert api.client.get(f"/evidence/{sha}").status_code == 401  # the plain path still needs one


def test_an_expired_link_is_403(api: Api) -> None:
    sha, _ = stored(api)
    ttl = api.services.settings.evidence_link_ttl_hours
    assert api.client.get(link(api, sha, made_hours_ago=ttl - 0.5)).status_code == 200
    detail = refused(api, link(api, sha, made_hours_ago=ttl + 0.5), "link_expired")
    assert "expired" in detail and "ask for a new one" in detail


def _with(path: str, **query: str) -> str:
    parts = urlsplit(path)
    values = {k: v[0] for k, v in parse_qs(parts.query).items()} | query
    return f"{parts.path}?" + "&".join(f"{k}={v}" for k, v in values.items())


def test_altered_links_are_403(api: Api, tmp_path: Path) -> None:
    sha, _ = stored(api, 1)
    other, _ = stored(api, 2)
    good = link(api, sha)
    exp = parse_qs(urlsplit(good).query)["exp"][0]
    sig = parse_qs(urlsplit(good).query)["sig"][0]
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    other_key = make_settings("sqlite://", tmp_path, secret_key="another-secret-key-0123456789")
    altered = {
        "one character of sig": _with(good, sig=flipped),
        "sig cut short": _with(good, sig=sig[:-1]),
        "no sig": _with(good, sig=""),
        "sig not ASCII": _with(good, sig="签名"),
        "another file's path": good.replace(sha, other),
        "exp a second later": _with(good, exp=str(int(exp) + 1)),
        "exp with a leading zero": _with(good, exp=f"0{exp}"),
        "exp not a number": _with(good, exp="tomorrow"),
        "exp far ahead": _with(good, exp="9" * 30),
        "signed with another key": EvidenceLinks.of(other_key, utcnow())
        .url(sha)
        .removeprefix(BASE),
    }
    for what, path in altered.items():
        assert path != good, what
        detail = refused(api, path, "link_invalid")
        assert "not valid" in detail, what
    assert api.client.get(good).status_code == 200  # the untouched link still opens


def test_a_link_to_a_file_that_is_gone_is_404(api: Api) -> None:
    response = api.client.get(link(api, "ab" * 32))
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_a_browser_is_told_why_in_chinese_and_english(api: Api) -> None:
    sha, _ = stored(api)
    ttl = api.services.settings.evidence_link_ttl_hours
    response = api.client.get(
        link(api, sha, made_hours_ago=ttl + 1), headers={"Accept": "text/html,*/*;q=0.8"}
    )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "链接已于" in response.text and "过期" in response.text
    assert "this evidence link expired at" in response.text


@pytest.mark.parametrize("hours", [0, -1, 24 * 90 + 1])
def test_link_lifetime_is_bounded(tmp_path: Path, hours: float) -> None:
    with pytest.raises(ValidationError, match="evidence_link_ttl_hours"):
        make_settings("sqlite://", tmp_path, evidence_link_ttl_hours=hours)


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [v for k, v in attrs if tag == "a" and k == "href" and v]


def opens(api: Api, url: str, data: bytes) -> None:
    assert url.startswith(f"{BASE}/evidence/") and "/signed?" in url, url
    response = api.client.get(url.removeprefix(BASE))
    assert (response.status_code, response.content) == (200, data), url


def test_webhook_messages_and_daily_reports_link_signed_files_that_open(api: Api) -> None:
    sha, data = stored(api)
    for fmt in ("wecom", "json"):
        hook = {"name": fmt, "url": "http://127.0.0.1:9/hook", "format": fmt}
        api.ok("POST", "/webhooks", json={**hook, "events": ["ticket.dispatch"]})
    squad = api.squad("west")
    ticket = {"clause": "5a", "description": "乱拉条幅", "evidence": [sha], "complaint": False}
    tid = api.ok("POST", "/tickets", json=ticket)["id"]
    api.ok("POST", f"/tickets/{tid}/dispatch", json={"squad_id": squad})
    with api.services.sessions() as session:
        payloads = [m.payload for m in session.scalars(select(OutboxMessage))]
    [wecom] = [p for p in payloads if "markdown" in p]
    [plain] = [p for p in payloads if "evidence_urls" in p]
    [wecom_url] = re.findall(r"\[原图1\]\(([^)]+)\)", wecom["markdown"]["content"])
    [json_url] = plain["evidence_urls"]
    report = api.ok("GET", "/reports/daily")
    [report_url] = [u for row in report["rows"] for cell in row["cells"] for u in cell["evidence"]]
    page = Links()
    page.feed(api.client.get("/reports/daily?format=html", headers=api.admin.headers).text)
    [html_url] = page.hrefs
    table = api.client.get("/reports/daily?format=csv", headers=api.admin.headers).text
    [csv_url] = [
        row[-1] for row in csv.reader(io.StringIO(table.lstrip("\ufeff"))) if "/" in row[-1]
    ]
    for url in (wecom_url, json_url, report_url, html_url, csv_url):
        opens(api, url, data)
