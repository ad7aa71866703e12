"""The demo page at ``/``: the JS client (static/django_doubletoken/doubletoken.js) at work.

Plain HTML, CSS and the ES module, no build step. The page reads the API's URLs, whether the
refresh token travels in a cookie and whether the sessions are bound to a DPoP key from data
attributes set here.
"""

from django.conf import settings
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from django_doubletoken import cookies
from django_doubletoken.conf import client_profile, doubletoken_settings


@require_safe
def demo(request):
    return render(request, "example_project/demo.html", {
        "auth_url": reverse("django_doubletoken:login").removesuffix("login/"),
        "me_url": reverse("me"),
        "socket_url": "/ws/notifications/",
        "cookie_mode": cookies.enabled_for(doubletoken_settings.DEFAULT_CLIENT),
        "demo_username": settings.DEMO_USERNAME,
        "call_seconds": settings.DEMO_CALL_SECONDS,
        # The page's profile binds (or requires binding) sessions to a key: the client then
        # makes one and signs its requests with it.
        "dpop": client_profile(doubletoken_settings.DEFAULT_CLIENT).dpop != "off",
        # Behind a step-up guard (account.py): the page asks for the password when needed.
        "password_url": reverse("password"),
        "account_url": reverse("account"),
    })
