"""E-mail previews: every template renders with sample values, for admins in development."""

from __future__ import annotations

from pathlib import Path

from lms import mail_previews
from lms.config import PROJECT_ROOT


def _templates() -> set[str]:
    folder = Path(PROJECT_ROOT, "templates", "mail")
    return {p.stem for p in folder.glob("*.html") if not p.name.startswith("_")}


def test_every_mail_template_renders_in_the_preview(app, client, login, make_user) -> None:
    login(make_user("admin"))
    page = client.get("/admin/mail/previews")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    names = _templates()
    assert len(names) >= 10
    with app.test_request_context():
        for name in sorted(names):
            preview = mail_previews.render(name)
            assert preview.error is None, (name, preview.error)
            assert "This is a preview of an e-mail" in preview.text, name  # the footer's reason
            assert f'id="mail-{name}"' in html
    assert "does not render" not in html
    one = sorted(names)[0]
    response = client.get(f"/admin/mail/previews/{one}.html")
    assert response.status_code == 200
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert client.get("/admin/mail/previews/not-a-template.html").status_code == 404


def test_a_broken_template_shows_its_error_instead_of_breaking_the_page(app) -> None:
    with app.test_request_context():
        env = app.jinja_env.overlay(undefined=mail_previews.PreviewUndefined)
        text = env.from_string("Hello {{ user.full_name }}, {{ missing.value }}").render(
            user={"full_name": "Alex"}
        )
        assert text == "Hello Alex, ⟨missing⟩"


def test_previews_are_for_admins_and_not_in_production(app, client, login, make_user) -> None:
    login(make_user("clinician"))
    assert client.get("/admin/mail/previews").status_code == 403
    client.post("/logout")
    login(make_user("admin"))
    app.config["LMS_ENV"] = "production"
    try:
        assert client.get("/admin/mail/previews").status_code == 404
    finally:
        app.config["LMS_ENV"] = "testing"
