"""Conditional GETs of the API's JSON answers.

A ``GET`` answered ``200`` with JSON carries an ``ETag`` of its body; asked again with
``If-None-Match`` and the same body, the answer is ``304 Not Modified`` without one. The
answer is still computed: a poller (the dashboard) is spared the transfer and the parse
when nothing changed.
"""

import webob


class ETags:
    """WSGI middleware: an ETag on every JSON ``GET`` answer, and ``304`` when it matches."""

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        request = webob.Request(environ)
        response = request.get_response(self.app)
        if (
            request.method == "GET"
            and response.status_int == 200
            and response.content_type == "application/json"
        ):
            response.md5_etag(set_content_md5=False)
            response.conditional_response = True
        return response(environ, start_response)
