"""An authentication backend for signing in with the e-mail address, as docs/how-to/email-login.md
shows it (included from here; tests/test_email_login.py runs it)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class EmailBackend(ModelBackend):
    """The e-mail address in the login body's username field, any case; the password checked
    as Django's own backend checks it."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None or "@" not in username:
            return None  # not an address: leave it to the next backend
        model = get_user_model()
        matches = list(model._default_manager.filter(email__iexact=username)[:2])
        if len(matches) != 1:
            # Unknown or shared address: hash anyway, so the answer takes as long as for a
            # real user (no way to tell which addresses have accounts).
            model().set_password(password)
            return None
        user = matches[0]
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
