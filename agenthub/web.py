"""Small helpers shared by pages and API views."""


def visitor_session_id(request) -> str:
    """The visitor's session key, creating the session (and its cookie) when there is none."""
    if not request.session.session_key:
        request.session.save()  # a new session is marked modified, so the middleware sends the cookie
    return request.session.session_key
