"""Text holding a NUL character (U+0000) is refused with a page that says why, on every
route, before anything reads the database.

PostgreSQL can neither store nor compare such text: a search box or form field holding one
(``/admin/users?q=a%00b``, an e-mail address on the log-in form) failed the request's
statement with a 500.
"""

from __future__ import annotations

import io

from tests.security.conftest import AUDIENCES, ROLES, audience, methods, rules, url

MESSAGE = "cannot be saved (a NUL character"


def test_every_route_refuses_a_nul_character_in_the_query_or_the_form(app, users, as_user) -> None:
    checked = 0
    for who in ROLES:
        client = as_user(users[who])
        for rule in rules(app):
            if who not in AUDIENCES[audience(app, rule)]:
                continue
            target = url(app, rule)
            for method in methods(rule):
                if method == "GET":
                    response = client.get(f"{target}?q=a%00b")
                else:
                    response = client.open(target, method=method, data={"q": "a\x00b"})
                assert response.status_code == 400, (who, method, target, response.status_code)
                assert MESSAGE in response.get_data(as_text=True), (who, method, target)
                checked += 1
    assert checked > 200  # the walk really walks


def test_a_nul_character_in_a_search_box_is_refused_before_any_statement(
    users, as_user, count_queries
) -> None:
    client = as_user(users["admin"])
    with count_queries as queries:
        response = client.get("/admin/users?q=ann%00")
    assert response.status_code == 400
    # Only the error page's own read (the session, for the navigation): no search ran.
    assert len(queries.statements) == 1
    assert "FROM user_sessions" in queries.statements[0]
    # The same search without it works.
    assert client.get("/admin/users?q=ann").status_code == 200


def test_the_log_in_form_refuses_a_nul_character_and_says_why(client) -> None:
    response = client.post(
        "/login", data={"email": "someone@example.org\x00", "password": "secret-password"}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert MESSAGE in page and "retype the text" in page


def test_a_nul_character_in_an_uploaded_files_name_is_refused(users, as_user) -> None:
    client = as_user(users["therapist"])
    response = client.post(
        "/licensure/licenses/new",
        # The second of two files: each file's name is checked, not only the first.
        data={
            "documents": [
                (io.BytesIO(b"%PDF-1.4"), "license.pdf"),
                (io.BytesIO(b"%PDF-1.4"), "license\x00.pdf"),
            ]
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert MESSAGE in response.get_data(as_text=True)


def test_machine_endpoints_answer_json(users, as_user) -> None:
    client = as_user(users["therapist"])
    response = client.get("/payments/1/status?x=%00", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert MESSAGE in response.get_json()["error"]


def test_other_control_characters_are_not_refused(users, as_user) -> None:
    """Only NUL: a tab or a line break in a search is text the database takes."""
    client = as_user(users["admin"])
    assert client.get("/admin/users?q=ann%09lee").status_code == 200
