"""Schemathesis hooks of the API contract run (tests/contract/run.sh).

A JSON Schema describes each parameter and field on its own; a few rules of the
API relate two of them, which no schema keyword can say. The server enforces
them (a 400 naming the parameter) and the OpenAPI descriptions state them.
Here a refusal of a generated request that breaks one of them is not counted
as a failure (`filter_failure`); every other refusal of a request schemathesis
calls "valid" still is one. Each rule is listed once, with where the server checks it.
"""

import schemathesis


def _reversed_dates(query):
    # crates/server/src/params/filter.rs, `FilterQuery::to_filter`: `to` must not be before `from`.
    start, end = query.get("from"), query.get("to")
    return isinstance(start, str) and isinstance(end, str) and len(start) == len(end) == 10 and end < start


def _reversed_box(query):
    # crates/server/src/params/values.rs, `BoundingBox`: the minimum must not exceed the maximum.
    raw = query.get("bbox")
    if not isinstance(raw, str):
        return False
    try:
        min_lon, min_lat, max_lon, max_lat = (float(part) for part in raw.split(","))
    except ValueError:
        return False
    return min_lon > max_lon or min_lat > max_lat


def _foreign_cursor(query):
    # crates/server/src/routes/events.rs: a cursor is opaque and signed; only the
    # `next_cursor` of an earlier page is one (none can be generated).
    return query.get("cursor") not in (None, "")


def _one_subject(item):
    # crates/server/src/routes/ml.rs, `subject`: an item names a stored event
    # (`ev_id`) or gives its facts (`features`), exactly one of the two.
    if not isinstance(item, dict):
        return True
    given = [item.get(key) is not None for key in ("ev_id", "features")]
    return given.count(True) == 1


def _weak_password(case, response):
    # crates/auth/src/password.rs: a new password must also be hard to guess
    # (zxcvbn) and must not contain the e-mail address's words; its length and
    # characters are in the schema.
    if case.operation.path not in ("/api/v1/auth/register", "/api/v1/auth/password-reset/confirm"):
        return False
    try:
        problem = response.json()
    except Exception:
        return False
    return response.status_code == 400 and problem.get("parameter") in ("password", "new_password")


def _breaks_a_rule(case):
    # Links schemathesis infers between operations may fill a path parameter
    # from a field that was null (`/admin/users/None/role`): not a valid request.
    if any(value is None or value == "None" for value in (case.path_parameters or {}).values()):
        return True
    query = case.query if isinstance(case.query, dict) else {}
    if _reversed_dates(query) or _reversed_box(query) or _foreign_cursor(query):
        return True
    body = case.body if isinstance(case.body, dict) else None
    path = case.operation.path
    if body is not None and path == "/api/v1/ml/predict":
        return not _one_subject(body)
    if body is not None and path == "/api/v1/ml/predict/batch":
        items = body.get("items")
        return isinstance(items, list) and not all(_one_subject(item) for item in items)
    return False


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    """Keeps every failure but a refusal (ST202) of a request that breaks one of the rules above."""
    return not (failure.code == "ST202" and (_breaks_a_rule(case) or _weak_password(case, response)))
