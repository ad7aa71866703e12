"""The app's EXCEPTION_HANDLER on a project's own DRF views: a ValidationError answers as the
app's endpoints answer invalid fields (400 ``invalid_input``, the messages under ``errors``)."""

from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

INVALID_DETAIL = "Some fields are missing or invalid; see errors."


class Address(serializers.Serializer):
    city = serializers.CharField()


class Order(serializers.Serializer):
    code = serializers.RegexField(r"^\d{6}$")  # a field named like the answer's own code
    address = Address()

    def validate(self, attrs):
        raise ValidationError("This shop is closed.")


class ProjectView(APIView):
    authentication_classes = ()
    permission_classes = ()

    def post(self, request):
        serializer = Order(data=request.data)
        serializer.is_valid(raise_exception=True)


def _post(body):
    request = APIRequestFactory().post("/orders/", body, format="json")
    response = ProjectView.as_view()(request)
    response.render()
    return response


def test_field_errors_are_named_under_errors_nested_ones_kept():
    response = _post({"code": "12", "address": {}})
    assert response.status_code == 400
    assert response.data == {
        "detail": INVALID_DETAIL, "code": "invalid_input",
        "errors": {"code": ["This value does not match the required pattern."],
                   "address": {"city": ["This field is required."]}}}


def test_a_non_field_error_goes_under_drfs_non_field_errors_key(settings):
    assert _post({"code": "123456", "address": {"city": "Lyon"}}).data["errors"] == {
        "non_field_errors": ["This shop is closed."]}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NON_FIELD_ERRORS_KEY": "__all__"}
    assert _post({"code": "123456", "address": {"city": "Lyon"}}).data["errors"] == {
        "__all__": ["This shop is closed."]}
