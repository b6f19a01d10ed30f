"""Course analytics: the course list, a course's drop-off per module and evaluation summary,
checked against a small hand-computed data set; the CSV equals the screen; admins only;
queries per page do not grow with the data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.routing import Rule

from lms.audit import AuditEvent
from lms.db import utcnow
from lms.extensions import db
from lms.training.models import Enrollment, EnrollmentSource, EnrollmentStatus
from tests.analytics.conftest import ALL_RIGHT, SLUG, course, csv_rows, screen_rows

FAIL = {"Capital": 1, "Sky": False, "Colour": "blue", "Sum": "5"}


def _enrolment(user, **values) -> Enrollment:
    c = course()
    row = Enrollment(
        user_id=user.id,
        course_id=c.id,
        course_version_id=c.current_version_id,
        source=EnrollmentSource.FREE,
        **values,
    )
    db.session.add(row)
    db.session.commit()
    return row


def test_course_list_counts_completion_rate_and_median_days(
    client, login, admin, make_user, stats_course
) -> None:
    start = utcnow() - timedelta(days=60)
    for days in (2, 10, 3):  # activated, then completed this many days later
        _enrolment(
            make_user(),
            status=EnrollmentStatus.COMPLETED,
            enrolled_at=start - timedelta(days=30),  # paid later: counts from activation
            activated_at=start,
            completed_at=start + timedelta(days=days),
        )
    _enrolment(  # never activated (e.g. an old row): counts from the enrolment
        make_user(),
        status=EnrollmentStatus.COMPLETED,
        enrolled_at=start,
        activated_at=None,
        completed_at=start + timedelta(days=5),
    )
    _enrolment(make_user(), status=EnrollmentStatus.ACTIVE, enrolled_at=start, activated_at=start)
    _enrolment(  # cancelled: not counted at all, not even its completion
        make_user(),
        status=EnrollmentStatus.CANCELLED,
        enrolled_at=start,
        activated_at=start,
        completed_at=start + timedelta(days=100),
    )
    login(admin)
    page = client.get("/admin/courses/").get_data(as_text=True)
    header, rows = screen_rows(page, "courses")
    assert header == [
        "Course",
        "Enrolments",
        "Completed",
        "Completion rate",
        "Median days to complete",
    ]
    # 5 counted enrolments, 4 completed in 2, 3, 5 and 10 days: median (3 + 5) / 2.
    assert rows == [["Stats course", "5", "4", "80%", "4.0"]]
    assert f'href="/admin/courses/{SLUG}"' in page

    # An odd number of completions: the middle one.
    _enrolment(
        make_user(),
        status=EnrollmentStatus.COMPLETED,
        enrolled_at=start,
        activated_at=start,
        completed_at=start + timedelta(days=7, hours=12),
    )
    _, rows = screen_rows(client.get("/admin/courses/").get_data(as_text=True), "courses")
    assert rows == [["Stats course", "6", "5", "83%", "5.0"]]


def test_a_course_without_enrolments_shows_dashes(client, login, admin, stats_course) -> None:
    login(admin)
    _, rows = screen_rows(client.get("/admin/courses/").get_data(as_text=True), "courses")
    assert rows == [["Stats course", "0", "0", "", ""]]
    page = client.get(f"/admin/courses/{SLUG}").get_data(as_text=True)
    _, steps = screen_rows(page, "dropoff")
    assert steps[0] == ["Enrolled", "0", "", ""]
    assert "0 responses" in page


def _dropoff_data(learners, make_user, sync_courses, courses_dir) -> None:
    from lms.training import services

    learners.enrollment(make_user(full_name="Only Enrolled"))
    learners.enrollment(make_user(full_name="Enrolled Too"))
    two = make_user(full_name="Did Intro")
    services.complete_lesson(
        learners.enrollment(two), services.module_state(learners.enrollment(two), "01-intro")
    )
    db.session.commit()
    learners.new("Failed Quiz", FAIL)
    learners.new("Passed Quiz", ALL_RIGHT)
    finished = learners.new("Finished All", ALL_RIGHT)
    learners.finish(finished, "5", "More cases")
    cancelled = make_user(full_name="Cancelled Learner")
    enrollment = learners.enrollment(cancelled)
    services.complete_lesson(enrollment, services.module_state(enrollment, "01-intro"))
    enrollment.status = EnrollmentStatus.CANCELLED
    db.session.commit()
    # The practice lesson changes: a new version of that module; a learner completes it.
    lesson = courses_dir / f"{SLUG}/modules/02-practice/lesson.md"
    lesson.write_text(lesson.read_text() + "\nA new paragraph.\n")
    sync_courses()
    newer = make_user(full_name="Newer Learner")
    enrollment = learners.enrollment(newer)
    for slug in ("01-intro", "02-practice"):
        services.complete_lesson(enrollment, services.module_state(enrollment, slug))
    db.session.commit()


def test_dropoff_per_module_counts_learners_by_module_slug_across_versions(
    client, login, admin, learners, make_user, sync_courses, courses_dir
) -> None:
    _dropoff_data(learners, make_user, sync_courses, courses_dir)
    login(admin)
    page = client.get(f"/admin/courses/{SLUG}").get_data(as_text=True)
    header, rows = screen_rows(page, "dropoff")
    assert header == ["Step", "Learners", "Share of enrolled", "Drop from the step before"]
    # 7 enrolments (the cancelled one is not counted). Introduction: Did Intro, Failed, Passed,
    # Finished, Newer. Practice: Failed, Passed, Finished (old version), Newer (new version).
    assert rows == [
        ["Enrolled", "7", "100%", ""],
        ["Introduction", "5", "71%", "2 (29%)"],
        ["Practice", "4", "57%", "1 (20%)"],
        ["Final test", "2", "29%", "2 (50%)"],
    ]
    # The chart says the same, and it is labelled for assistive technology.
    assert 'role="img"' in page and '<title id="dropoff-title">' in page
    assert "Enrolled: 7; Introduction: 5; Practice: 4; Final test: 2." in page
    assert "Final test: 2 (29%)" in page
    # The summary: 1 completion of 7 enrolments.
    assert "14%" in page
    # Links to the question analysis of the module with the quiz.
    assert f'href="/admin/courses/{SLUG}/modules/03-final"' in page


def test_dropoff_csv_equals_the_screen_and_is_audited(
    client, login, admin, learners, make_user, sync_courses, courses_dir
) -> None:
    _dropoff_data(learners, make_user, sync_courses, courses_dir)
    login(admin)
    header, rows = screen_rows(
        client.get(f"/admin/courses/{SLUG}").get_data(as_text=True), "dropoff"
    )
    response = client.get(f"/admin/courses/{SLUG}.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert f"{SLUG}-dropoff-" in response.headers["Content-Disposition"]
    assert csv_rows(response.get_data(as_text=True)) == (header, rows)
    courses_header, courses = screen_rows(
        client.get("/admin/courses/").get_data(as_text=True), "courses"
    )
    exported = client.get("/admin/courses.csv").get_data(as_text=True)
    assert csv_rows(exported) == (courses_header, courses)
    reports = [
        e.details["report"]
        for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "report.exported")
        )
    ]
    assert reports == ["course-dropoff", "courses"]


def test_evaluation_summary(client, login, admin, learners) -> None:
    for name, likert, comment in (
        ("Eve One", "5", "More cases"),
        ("Eve Two", "4", ""),
        ("Eve Three", "4", "Shorter videos"),
        ("Eve Four", "2", "Less reading"),
    ):
        learners.finish(learners.new(name, ALL_RIGHT), likert, comment)
    login(admin)
    page = client.get(f"/admin/courses/{SLUG}").get_data(as_text=True)
    header, rows = screen_rows(page, "evaluation-likert")
    assert header == [
        "Statement",
        "Answers",
        "Mean",
        "1 (strongly disagree)",
        "2 (disagree)",
        "3 (neither agree nor disagree)",
        "4 (agree)",
        "5 (strongly agree)",
    ]
    # (5 + 4 + 4 + 2) / 4 = 3.75
    assert rows == [["The learning objectives were met.", "4", "3.75", "0", "1", "0", "2", "1"]]
    assert "4 responses" in page
    assert "What should we improve?" in page and "3 comments; the latest:" in page
    latest = page[page.index("3 comments") :]
    assert (
        latest.index("Less reading") < latest.index("Shorter videos") < latest.index("More cases")
    )


def test_only_the_latest_comments_are_shown(client, login, admin, learners) -> None:
    for i in range(5):
        learners.finish(learners.new(f"Commenter {i}", ALL_RIGHT), "4", f"Comment number {i}")
    login(admin)
    page = client.get(f"/admin/courses/{SLUG}").get_data(as_text=True)
    assert "5 comments; the latest:" in page
    assert [f"Comment number {i}" in page for i in range(5)] == [False, False, True, True, True]


def _analytics_rules(app) -> list[Rule]:
    return [r for r in app.url_map.iter_rules() if r.endpoint.startswith("analytics.")]


def _url(rule: Rule) -> str:
    values = {
        "slug": SLUG,
        "module_slug": "03-final",
        "index": 1,
    }
    return rule.build({k: v for k, v in values.items() if k in rule.arguments})[1]


def test_every_analytics_route_is_for_admins_only(app, client, make_user, login, stats_course):
    rules = _analytics_rules(app)
    assert len(rules) >= 7
    for rule in rules:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(_url(rule), method=method)
            assert response.status_code == 302, (rule.rule, method)
            assert "/login" in response.headers["Location"]
    for role in ("therapist", "clinician"):
        login(make_user(role))
        for rule in rules:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                response = client.open(_url(rule), method=method)
                assert response.status_code == 403, (role, rule.rule, method)
        client.post("/logout")


@pytest.mark.parametrize(
    "url",
    [
        "/admin/courses/no-such-course",
        "/admin/courses/no-such-course.csv",
        f"/admin/courses/{SLUG}/modules/no-such-module",
        f"/admin/courses/{SLUG}/modules/no-such-module.csv",
        f"/admin/courses/{SLUG}/modules/03-final/questions/0/regrade",
        f"/admin/courses/{SLUG}/modules/03-final/questions/5/regrade",
        f"/admin/courses/{SLUG}/modules/01-intro/questions/1/regrade",
    ],
)
def test_unknown_courses_modules_and_questions_are_404(
    client, login, admin, stats_course, url
) -> None:
    login(admin)
    assert client.get(url).status_code == 404


def test_a_module_without_a_quiz_says_so(client, login, admin, stats_course) -> None:
    login(admin)
    page = client.get(f"/admin/courses/{SLUG}/modules/01-intro")
    assert page.status_code == 200 and "This module has no quiz." in page.get_data(as_text=True)


def test_queries_per_page_do_not_grow_with_attempts(
    client, login, admin, learners, count_queries
) -> None:
    users = [learners.new(f"Busy Learner {i}", FAIL) for i in range(5)]
    login(admin)
    pages = [
        "/admin/courses/",
        f"/admin/courses/{SLUG}",
        f"/admin/courses/{SLUG}/modules/03-final",
        f"/admin/courses/{SLUG}.csv",
        f"/admin/courses/{SLUG}/modules/03-final.csv",
    ]

    def counts() -> list[int]:
        found = []
        for url in pages:
            with count_queries as q:
                assert client.get(url).status_code == 200
            found.append(q.count)
        return found

    small = counts()
    for user in users:  # 45 more attempts, more learners, finished courses and evaluations
        for _ in range(9):
            learners.attempt(user, FAIL)
    for i in range(5):
        learners.finish(learners.new(f"Finisher {i}", ALL_RIGHT), "4", f"Fine {i}")
    assert counts() == small
    assert max(small) <= 12


def test_each_list_and_its_csv_share_a_url(client, login, admin, stats_course) -> None:
    """The house convention: a list's export is its page's URL plus ".csv"."""
    login(admin)
    for page, export in (
        ("/admin/courses", "analytics.index_csv"),
        (f"/admin/courses/{SLUG}", "analytics.course_csv"),
        (f"/admin/courses/{SLUG}/modules/03-final", "analytics.module_csv"),
    ):
        html = client.get(page)
        assert html.status_code == 200, page
        assert f'data-export="{export}"' in html.get_data(as_text=True)
        assert client.get(f"{page}.csv").headers["Content-Type"].startswith("text/csv")
