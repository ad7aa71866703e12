from django import template

register = template.Library()


@register.simple_tag
def doubletoken_user_summary(user) -> str:
    from ..admin import user_sessions_summary

    return user_sessions_summary(user)
