"""WSGI pieces shared by the API and the agent."""


class PublicRootDispatcher:
    """Send ``GET /`` (what the service is, its versions) around authentication, all
    else through it."""

    def __init__(self, public_app, protected_app) -> None:
        self.public_app = public_app
        self.protected_app = protected_app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "/") in ("", "/"):
            return self.public_app(environ, start_response)
        return self.protected_app(environ, start_response)
