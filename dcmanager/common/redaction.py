"""Hiding credentials that ride in URLs (subcloud endpoints, transport URLs).

Used wherever such a URL may be shown: API responses, CLI debug output, logs.
"""

import urllib.parse

MASK = "***"
# Query parameters whose values are credentials.
SECRET_QUERY_KEYS = frozenset(
    {"password", "passwd", "pass", "secret", "token", "key", "api_key", "apikey", "auth"}
)


def redact_url(url: str) -> str:
    """``url`` with its credentials masked: the password of the user info (or the whole
    user info when it is a single token) and the values of secret-looking query keys."""
    try:
        parts = urllib.parse.urlsplit(url)
        password = parts.password
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        host = netloc.rpartition("@")[2]
        userinfo = f"{parts.username}:{MASK}" if password is not None else MASK
        netloc = f"{userinfo}@{host}"
    query = parts.query
    if query:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        if any(key.lower() in SECRET_QUERY_KEYS for key, _ in pairs):
            query = urllib.parse.urlencode(
                [(k, MASK if k.lower() in SECRET_QUERY_KEYS else v) for k, v in pairs],
                safe="*",
            )
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query))
