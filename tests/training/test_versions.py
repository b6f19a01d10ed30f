"""Versions: changed modules are redone, unchanged ones keep their completion,
and attempts stay frozen."""

from __future__ import annotations

from sqlalchemy import select

from lms.extensions import db
from lms.training import services
from lms.training.models import Course, CourseVersion, Enrollment, QuizAttempt


def _course() -> Course:
    return db.session.scalar(select(Course).where(Course.slug == "mini-course"))


def test_sync_is_idempotent(sync_courses) -> None:
    first = sync_courses()
    second = sync_courses()
    assert [r.outcome for r in first] == ["created"]
    assert [r.outcome for r in second] == ["unchanged"]
    assert (
        db.session.scalar(
            select(CourseVersion.number).where(CourseVersion.course_id == _course().id)
        )
        == 1
    )


def test_changing_one_module_keeps_the_other_modules_completion(
    client, make_user, login, sync_courses, courses_dir
) -> None:
    sync_courses()
    user = make_user()
    login(user)
    client.post("/courses/mini-course/enroll")
    client.post("/courses/mini-course/modules/01-basics/complete")
    client.post("/courses/mini-course/modules/01-basics/quiz")
    attempt = db.session.scalar(select(QuizAttempt))
    frozen_before = attempt.questions
    # Module 2 changes; module 1 does not.
    lesson = courses_dir / "mini-course/modules/02-practice/lesson.md"
    lesson.write_text(lesson.read_text() + "\nA new paragraph.\n")
    results = sync_courses()
    assert results[0].outcome == "new version" and results[0].version == 2
    assert results[0].moved_enrollments == 1
    enrollment = db.session.scalar(select(Enrollment))
    progress = services.course_progress(enrollment)
    assert progress.modules[0].lesson_done  # unchanged module: completion kept
    # Module 1's quiz text changes: a new module version, to be redone.
    quiz = courses_dir / "mini-course/modules/01-basics/quiz.gift"
    quiz.write_text(quiz.read_text().replace("capital of France", "capital city of France"))
    sync_courses()
    enrollment = db.session.scalar(select(Enrollment))
    progress = services.course_progress(db.session.merge(enrollment))
    assert not progress.modules[0].lesson_done
    # The attempt in progress still shows exactly the questions it was given.
    attempt = db.session.get(QuizAttempt, attempt.id)
    assert attempt.questions == frozen_before
    assert "capital of France" in attempt.questions[0]["question"]["text"]


def test_the_lesson_page_shows_the_lesson_of_the_learners_course_version(
    client, make_user, login, sync_courses, courses_dir
) -> None:
    sync_courses()
    login(make_user())
    client.post("/courses/mini-course/enroll")
    client.post("/courses/mini-course/modules/01-basics/complete")
    url = "/courses/mini-course/modules/01-basics"
    page = client.get(url).get_data(as_text=True)
    assert '<article class="lesson card">' in page and "A new paragraph." not in page
    lesson = courses_dir / "mini-course/modules/01-basics/lesson.md"
    lesson.write_text(lesson.read_text() + "\nA new paragraph.\n")
    assert sync_courses()[0].moved_enrollments == 1
    # The learner was moved to the new version: its lesson, not the old one's.
    page = client.get(url).get_data(as_text=True)
    assert "<p>A new paragraph.</p>" in page


def test_progress_is_read_with_the_same_sql_whatever_the_number_of_modules(
    app, client, make_user, login, sync_courses, courses_dir
) -> None:
    """The progress statement names the modules by their course version, not one by one: a
    course of sixty modules sends the same short SQL as one of two, which PostgreSQL then
    plans once for every learner (prepared; docs/PERFORMANCE.md, "The thirteenth round").
    The version's id is written in the SQL ("The seventeenth round"): the only difference."""
    from sqlalchemy import event

    sync_courses()
    user = make_user()
    login(user)
    client.post("/courses/mini-course/enroll")
    client.post("/courses/mini-course/modules/01-basics/complete")
    engine = app.extensions["lms.db"].engine
    sent: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        if "FROM module_progress" in statement and "completed_at" in statement:
            sent.append(statement)

    def progress_sql() -> tuple[str, services.CourseProgress]:
        sent.clear()
        event.listen(engine, "before_cursor_execute", record)
        try:
            progress = services.course_progress(db.session.scalar(select(Enrollment)))
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert len(sent) == 1
        return sent[0], progress

    before, progress = progress_sql()
    assert len(progress.modules) == 2
    assert progress.modules[0].lesson_done
    # A third module: a new version of the course, the enrolment moved to it.
    module = courses_dir / "mini-course/modules/03-more"
    module.mkdir()
    (module / "module.toml").write_text('title = "More"\nsummary = "More practice."\n')
    (module / "lesson.md").write_text("# More\n\nMore practice.\n")
    course_toml = courses_dir / "mini-course/course.toml"
    course_toml.write_text(
        course_toml.read_text().replace('"02-practice"]', '"02-practice", "03-more"]')
    )
    sync_courses()
    after, progress = progress_sql()
    assert len(progress.modules) == 3
    assert progress.modules[0].lesson_done  # what was done is still read
    assert not progress.modules[2].lesson_done
    versions = select(CourseVersion.id).order_by(CourseVersion.id)
    first, second = db.session.scalars(versions).all()
    assert f"course_version_id IN ({first})" in before
    assert f"course_version_id IN ({second})" in after
    assert after.replace(f"IN ({second})", f"IN ({first})") == before
