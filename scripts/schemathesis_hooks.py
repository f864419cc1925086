"""schemathesis hooks for scripts/schemathesis.sh.

What the OpenAPI document cannot say and a client knows: which ids exist and are the caller's,
the current ETag of what it changes, that an Idempotency-Key names one request, and the rules
that tie one parameter to another (a joined relation's field needs its join, a cursor comes from
the previous page, X-Crud-Dialect: postgrest takes no nestjsx parameters). Every parameter is
declared with its own constraints, and the document states these rules in its descriptions, but
a generator draws each parameter on its own, so valid-looking requests would be refused for
reasons the document declares (a 404, 412, 422 or 400 that the positive-data check then reports
as a rejected valid request), or never reach the code behind the 404.

So, for cases generated as valid only, before they are sent, these hooks make them valid as a
client would: they point ids at the run's fixtures, send the current ETag, give each key its own
value and add or drop what the rules need. Cases generated as invalid are sent untouched, to be
refused. No case is filtered and no operation or check is excluded; the one kind of failure
dropped, use_after_free after a recover, is explained at filter_failure below and counted in the
summary ("Filtered: n").

The fixtures come from the environment the script sets: FUZZ_BASE_URL, FUZZ_TOKEN (the run's
user), FUZZ_ORG_ID (an organization it owns), FUZZ_PROJECT_ID (a project in it), FUZZ_USER_ID,
and FUZZ_MEMBER_ID and FUZZ_MEMBER_EMAIL (a second user, to add to and remove from it).
"""

import json
import os
import re
import uuid
from urllib.parse import urlencode

import requests
import schemathesis

BASE_URL = os.environ["FUZZ_BASE_URL"]
TOKEN = os.environ["FUZZ_TOKEN"]

# A body field that names another resource -> the fixture it is pointed at.
_FIXTURES = {
    # POST /projects: an organization the caller belongs to (else 404). (A PUT or PATCH must name
    # the project's own, else 422: _current reads it.)
    "organizationId": os.environ["FUZZ_ORG_ID"],
    # POST /tasks: a live project of the caller's (else 404); PUT and PATCH: see _current.
    "projectId": os.environ["FUZZ_PROJECT_ID"],
    # Tasks: the assignee must be a member of the task's organization (else 422).
    "assigneeId": os.environ["FUZZ_USER_ID"],
}

# The document's uuid format: the hyphenated form, any case.
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# The document's Idempotency-Key (components.parameters.IdempotencyKey).
_IDEMPOTENCY_KEY = re.compile(r"^[\t ]*[!-~](?:[ -~]*[!-~])?[\t ]*$")

# Parameters only the nestjsx dialect reads; X-Crud-Dialect: postgrest refuses them.
_NESTJSX_ONLY = ("filter", "or", "s", "fields", "join", "sort", "cursor")

# The relations each list may join (the prefixes of relation.field names).
_RELATIONS = {"/projects": ("tasks", "organization"), "/tasks": ("project", "organization", "assignee"),
              "/projects/{id}/tasks": ("project", "organization", "assignee")}

_MAX_INT64 = 2**63 - 1
_MAX_LIMIT = 100
_MAX_CONDITIONS = 100
_MAX_QUERY_BYTES = 32 << 10


def _conditions(node):
    """The conditions an s object holds: one per field value, one per operator of an object."""
    n = 0
    for key, value in node.items():
        if key in ("$and", "$or"):
            n += sum(_conditions(t) for t in value if isinstance(t, dict)) if isinstance(value, list) else 0
        elif isinstance(value, dict):
            n += len(value)
        else:
            n += 1
    return n


def _trim(node, budget):
    """node with its entries kept while they fit in budget[0] conditions."""
    out = {}
    for key, value in node.items():
        if key in ("$and", "$or") and isinstance(value, list):
            terms = []
            for t in value:
                if isinstance(t, dict) and budget[0] > 0:
                    terms.append(_trim(t, budget))
            out[key] = terms
            continue
        cost = len(value) if isinstance(value, dict) else 1
        if cost <= budget[0]:
            out[key] = value
            budget[0] -= cost
    return out


def _positive(case):
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive


def _point_at_fixtures(item):
    if not isinstance(item, dict):
        return
    for name, value in _FIXTURES.items():
        current = item.get(name)
        if isinstance(current, str) and _UUID.match(current):
            item[name] = value


def _get(path, params=None):
    try:
        return requests.get(BASE_URL + path, params=params, headers={"Authorization": "Bearer " + TOKEN}, timeout=10)
    except requests.RequestException:
        return None


def _relations_named(query, relations):
    """The relations whose fields the filter, or and s values name."""
    named = set()
    for param in ("filter", "or"):
        values = query.get(param)
        for value in values if isinstance(values, list) else [values] if isinstance(values, str) else []:
            if isinstance(value, str):
                field = value.split("||", 1)[0]
                if "." in field:
                    named.add(field.split(".", 1)[0])
    search = query.get("s")
    if isinstance(search, str):
        try:
            search = json.loads(search)
        except ValueError:
            search = None

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("$and", "$or"):
                    walk(value)
                elif "." in key:
                    named.add(key.split(".", 1)[0])
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(search)
    return [r for r in relations if r in named]


def _list_query(case):
    query = case.query
    if query is None:
        return
    # page's offset, (page-1)*limit, must fit in 63 bits (in both dialects).
    page, limit = _as_int(query.get("page")), _as_int(query.get("limit"))
    if page is not None and page > 1:
        limit = min(limit, _MAX_LIMIT) if limit is not None and limit > 0 else 20
        query["page"] = min(page, _MAX_INT64 // limit + 1)
    headers = case.headers or {}
    dialect = next((v for k, v in headers.items() if k.lower() == "x-crud-dialect"), None)
    if isinstance(dialect, str) and dialect.strip(" \t").lower() == "postgrest":
        # The header names the dialect; nestjsx parameters with it are a 400.
        for name in _NESTJSX_ONLY:
            query.pop(name, None)
        return
    # A joined relation's field needs the join.
    relations = _RELATIONS.get(case.path, ())
    missing = [r for r in _relations_named(query, relations) if not any(
        isinstance(j, str) and j.split("||", 1)[0] == r for j in (query.get("join") or []))]
    if missing:
        query["join"] = list(query.get("join") or []) + missing
    # filter and or hold at most 100 conditions together, and so does s.
    filters, ors = query.get("filter"), query.get("or")
    if isinstance(filters, list) and isinstance(ors, list) and len(filters) + len(ors) > _MAX_CONDITIONS:
        query["or"] = ors[: max(0, _MAX_CONDITIONS - len(filters))]
    if isinstance(query.get("s"), str):
        try:
            search = json.loads(query["s"])
        except ValueError:
            search = None
        if isinstance(search, dict) and _conditions(search) > _MAX_CONDITIONS:
            query["s"] = json.dumps(_trim(search, [_MAX_CONDITIONS]))
    # The parameters hold at most 32 KiB together.
    while len(urlencode(query, doseq=True)) > _MAX_QUERY_BYTES:
        lists = [k for k, v in query.items() if isinstance(v, list) and v]
        if not lists:
            break
        longest = max(lists, key=lambda k: len(urlencode({k: query[k]}, doseq=True)))
        query[longest] = query[longest][:-1]
    # A cursor comes from the previous page of the same list and sort, and goes without page
    # and offset: a generated one is replaced by a real one.
    if "cursor" in query:
        query.pop("page", None)
        query.pop("offset", None)
        if query["cursor"]:
            first = {k: v for k, v in query.items() if k in ("filter", "or", "s", "sort", "join", "limit")}
            first["cursor"] = ""
            first["limit"] = 1
            answer = _get(case.formatted_path, first)
            next_cursor = None
            if answer is not None and answer.status_code == 200:
                next_cursor = answer.json().get("nextCursor")
            query["cursor"] = next_cursor or ""
            if next_cursor:
                query["limit"] = 1  # the page size the cursor was made with


def _as_int(value):
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    return None


def _current(case, headers):
    """A write to one resource names what it is: its current ETag under If-Match (a generated
    tag never matches), and in a PUT or PATCH its own organization (a project) or project (a
    task), as a client sends back what it read, since a project never moves to another
    organization nor a task to another organization's project. The fixtures are right for
    what the run creates in them; the stateful phase also creates organizations of its own."""
    method = case.method.upper()
    if method not in ("PUT", "PATCH", "DELETE"):
        return
    etag_header = next((k for k in headers if k.lower() == "if-match"), None)
    body = case.body if isinstance(case.body, dict) else None
    wants = etag_header is not None or (body is not None and ("organizationId" in body or "projectId" in body))
    if not wants or not re.fullmatch(r"/(?:projects|tasks|organizations)/\{id\}(?:/recover)?", case.path):
        return
    answer = _get(case.formatted_path.removesuffix("/recover"))
    if answer is None or answer.status_code != 200:
        return
    if etag_header is not None and answer.headers.get("ETag"):
        headers[etag_header] = answer.headers["ETag"]
    if body is not None and method in ("PUT", "PATCH"):
        current = answer.json()
        for name in ("organizationId", "projectId"):
            if isinstance(body.get(name), str) and _UUID.match(body[name]) and name in current:
                body[name] = current[name]


# The membership routes: an organization the caller owns and a registered user to add and
# remove; random ones are always a 404.
_MEMBERS_PATHS = ("/organizations/{id}/members", "/organizations/{id}/members/{userId}")


def _stateful(case):
    # The stateful phase takes ids from earlier answers (links): those are real already.
    return case.meta is not None and str(case.meta.phase.name) == "stateful"


def _members(case):
    if case.path not in _MEMBERS_PATHS or case.method.upper() not in ("POST", "DELETE") or _stateful(case):
        return
    params = case.path_parameters
    if params is None:
        return
    if isinstance(params.get("id"), str) and _UUID.match(params["id"]):
        params["id"] = os.environ["FUZZ_ORG_ID"]
    if isinstance(params.get("userId"), str) and _UUID.match(params["userId"]):
        params["userId"] = os.environ["FUZZ_MEMBER_ID"]
    if isinstance(case.body, dict) and isinstance(case.body.get("email"), str):
        case.body["email"] = os.environ["FUZZ_MEMBER_EMAIL"]


@schemathesis.hook
def before_call(context, case, kwargs):
    if not _positive(case):
        return
    _members(case)
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("bulk"), list):
        for item in body["bulk"]:
            _point_at_fixtures(item)
    else:
        _point_at_fixtures(body)

    headers = case.headers or {}
    # A key is one request's: the same key with another body is a 422, with the same body a
    # replay of the first answer (API.md), and generated keys repeat ("0", "a").
    for name in list(headers):
        if name.lower() == "idempotency-key" and isinstance(headers[name], str) and _IDEMPOTENCY_KEY.match(headers[name]):
            headers[name] = str(uuid.uuid4())
    _current(case, headers)
    if case.method.upper() == "GET":
        _list_query(case)


# Soft delete and recover (API.md): PATCH …/recover undeletes what DELETE deleted, so after a
# recover the resource is served again. schemathesis's use_after_free check counts only POST
# and PUT as re-creating a resource, and reports the reads after a DELETE, recover, read
# sequence as a deleted resource still served. The calls are recorded in order (one worker),
# and exactly those failures are dropped: the ones whose deleted resource was recovered after
# its last successful DELETE. Any other use_after_free failure stands.
_sequence = [0]
_deleted = {}
_recovered = {}


@schemathesis.hook
def after_call(context, case, response):
    _sequence[0] += 1
    if not 200 <= response.status_code < 300:
        return
    path = case.formatted_path
    method = case.method.upper()
    if method == "DELETE":
        _deleted[path] = _sequence[0]
    elif method == "PATCH" and path.endswith("/recover"):
        _recovered[path.removesuffix("/recover")] = _sequence[0]


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if type(failure).__name__ != "UseAfterFree":
        return True
    method, _, path = getattr(failure, "free", "").partition(" ")
    if method != "DELETE":
        return True
    return not _recovered.get(path, 0) > _deleted.get(path, 0)
