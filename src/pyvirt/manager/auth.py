"""Access control: the token printed at start-up (or the configured password) opens a session.

`/?token=...` or the login form sets an HttpOnly, SameSite=Strict session
cookie; every other request needs that cookie. Static files are public (they
hold nothing but the page's code).
"""

from __future__ import annotations

import hmac
import html
import secrets
from dataclasses import dataclass, field

from aiohttp import web

from .errors import Handler, error_response

COOKIE = "pyvirt_manager"
PUBLIC_PREFIXES = ("/static/", "/vendor/")


@dataclass
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))


SESSION = web.RequestKey("session", Session)


class Auth:
    def __init__(self, token: str, password: str | None = None, secure: bool = False) -> None:
        self.token = token
        self.password = password
        self.secure = secure  # TLS: the cookie is sent over https only
        self.sessions: dict[str, Session] = {}

    def accepts(self, secret: str) -> bool:
        ok = hmac.compare_digest(secret.encode(), self.token.encode())
        if self.password is not None:
            ok |= hmac.compare_digest(secret.encode(), self.password.encode())
        return ok

    def session_of(self, request: web.Request) -> Session | None:
        sid = request.cookies.get(COOKIE)
        return None if sid is None else self.sessions.get(sid)

    def open_session(self, response: web.StreamResponse) -> Session:
        sid = secrets.token_urlsafe(32)
        session = self.sessions[sid] = Session()
        response.set_cookie(
            COOKIE, sid, httponly=True, samesite="Strict", secure=self.secure, path="/"
        )
        return session

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(PUBLIC_PREFIXES) or request.path == "/login":
            return await handler(request)
        session = self.session_of(request)
        if session is None and self.accepts(request.query.get("token", "")):
            # Drop the token from the address bar (and from the history) at once.
            query = {k: v for k, v in request.query.items() if k != "token"}
            raise self._redirect(request.rel_url.with_query(query).path_qs)
        if session is None:
            if request.path.startswith("/api/"):
                return error_response(
                    401,
                    "authentication required: open the address pyvirt-manager printed at start-up",
                )
            return login_page()
        request[SESSION] = session
        return await handler(request)

    def _redirect(self, location: str) -> web.HTTPFound:
        found = web.HTTPFound(location)
        self.open_session(found)
        return found

    async def login(self, request: web.Request) -> web.StreamResponse:
        if request.method == "GET":
            return login_page()
        form = await request.post()
        secret = form.get("secret")
        if not isinstance(secret, str) or not self.accepts(secret):
            return login_page("That is not the access token or the password.", status=403)
        raise self._redirect("/")


def login_page(message: str = "", status: int = 200) -> web.Response:
    note = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pyvirt manager: sign in</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/app.css"></head>
<body class="login"><main><h1>pyvirt manager</h1>{note}
<form method="post" action="/login">
<label for="secret">Access token (printed by pyvirt-manager at start-up) or password</label>
<input id="secret" name="secret" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button></form></main></body></html>"""
    return web.Response(text=body, content_type="text/html", status=status)
