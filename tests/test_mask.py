"""Masking: which keys name secrets (masking of values is in test_codec.py and test_hostile.py)."""


def test_author_is_not_a_secret_but_auth_is():
    from agentnb.core.mask import is_secret_key
    assert not is_secret_key("author") and not is_secret_key("authority")
    for key in ("auth", "api_key", "apiKey", "user:access_token", "client_secret", "password",
                "Authorization", "credentials", "temp:oauth2"):
        assert is_secret_key(key), key
