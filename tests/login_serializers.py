"""Login serializers a project might name in LOGIN_SERIALIZER (tests/test_login_serializer.py)."""

from django.contrib.auth import get_user_model
from django.core import signing
from rest_framework import serializers

from django_doubletoken.serializers import LoginSerializer

MAGIC_SALT = "tests.magic-link"


class CaseInsensitiveLoginSerializer(LoginSerializer):
    """A subclass: usernames are matched without regard to case."""

    def validate(self, attrs):
        model = get_user_model()
        field = model.USERNAME_FIELD
        match = model._default_manager.filter(**{f"{field}__iexact": attrs[field]}).first()
        if match is not None:
            attrs[field] = getattr(match, field)
        return super().validate(attrs)


class MagicLinkLoginSerializer(serializers.Serializer):
    """Starting afresh: a signed, short-lived code from an emailed link instead of a password."""

    code = serializers.CharField(max_length=500)

    def validate(self, attrs):
        try:
            pk = signing.loads(attrs["code"], salt=MAGIC_SALT, max_age=300)
        except signing.BadSignature:
            raise serializers.ValidationError(
                {"code": "This link is invalid or has expired."}) from None
        user = get_user_model()._default_manager.filter(pk=pk, is_active=True).first()
        if user is None:
            raise serializers.ValidationError({"code": "This link is invalid or has expired."})
        return {"user": user, "device": "magic link", "client": "mobile"}
