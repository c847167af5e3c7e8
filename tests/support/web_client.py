"""HTTP to a live server the way a browser's form does it: cookies (a session, Django's CSRF
token), redirects returned as they are."""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 302 is returned as it is


class Client:
    """HTTP to the live server, with cookies (a session, the CSRF token) like a browser."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self._open = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies),
                                                 NoRedirect).open

    def request(self, method: str, path: str, data: dict[str, str] | list[tuple[str, str]] | None = None,
                csrf: bool = True, json_body: Any = None) -> tuple[int, dict[str, str], bytes]:
        """``data``: form fields (pairs for a field given several times); ``json_body``: a JSON body."""
        headers = {"Referer": self.base + "/"}
        token = next((c.value for c in self.cookies if c.name == "csrftoken"), None)
        if method == "POST" and csrf:
            if token is None:
                self.request("GET", "/")  # the shop's form sets the CSRF cookie
                token = next(c.value for c in self.cookies if c.name == "csrftoken")
            headers["X-CSRFToken"] = token
        body = urllib.parse.urlencode(data or {}).encode() if method == "POST" else None
        if json_body is not None:
            body, headers["Content-Type"] = json.dumps(json_body).encode(), "application/json"
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with self._open(request, timeout=15) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def json(self, path: str, method: str = "GET", **kwargs: Any) -> tuple[int, Any]:
        status, _, body = self.request(method, path, **kwargs)
        return status, json.loads(body)
