"""The learner's path: enrol, modules in order, quiz rules, evaluation, certificate."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from lms.db import utcnow
from lms.extensions import db
from lms.training.models import (
    AttemptAnswer,
    AttemptStatus,
    Certificate,
    Enrollment,
    EnrollmentStatus,
    ModuleProgress,
    QuizAttempt,
)

BASE = "/courses/mini-course"


@pytest.fixture
def learner(make_user, login, mini_course):
    user = make_user(full_name="Lee Learner")
    login(user)
    return user


def _enroll(client) -> None:
    assert client.post(f"{BASE}/enroll").status_code == 302


def _complete_lesson(client, module: str) -> None:
    assert client.post(f"{BASE}/modules/{module}/complete").status_code == 302


def _start(client, module: str = "01-basics") -> QuizAttempt:
    response = client.post(f"{BASE}/modules/{module}/quiz")
    assert response.status_code == 302, response.get_data(as_text=True)
    return db.session.scalars(select(QuizAttempt).order_by(QuizAttempt.id.desc())).first()


def _positions(attempt: QuizAttempt) -> dict[str, int]:
    return {entry["question"]["title"]: i for i, entry in enumerate(attempt.questions)}


def _paris(attempt: QuizAttempt) -> int:
    answers = attempt.questions[_positions(attempt)["Capital"]]["question"]["answers"]
    return next(i for i, a in enumerate(answers) if a["text"] == "Paris")


def _answer_all(client, attempt: QuizAttempt, capital: int, sky: str) -> None:
    pos = _positions(attempt)
    assert (
        client.post(
            f"/attempts/{attempt.id}/answers/{pos['Capital']}", data={f"q{pos['Capital']}": capital}
        ).status_code
        == 200
    )
    assert (
        client.post(
            f"/attempts/{attempt.id}/answers/{pos['Sky']}", data={f"q{pos['Sky']}": sky}
        ).status_code
        == 200
    )


def test_catalogue_and_course_page(client, learner) -> None:
    assert "Mini course" in client.get("/courses").get_data(as_text=True)
    page = client.get(BASE).get_data(as_text=True)
    assert "Enrol in this course" in page and "Basics" in page and "Practice" in page


def test_enrolment_in_a_free_course_is_immediate(client, learner) -> None:
    _enroll(client)
    enrollment = db.session.scalar(select(Enrollment).where(Enrollment.user_id == learner.id))
    assert enrollment.status == EnrollmentStatus.ACTIVE and enrollment.source.value == "free"
    assert client.post(f"{BASE}/enroll").status_code == 302  # twice: a message, no second row
    assert db.session.scalar(select(func.count()).select_from(Enrollment)) == 1


def test_paid_course_without_payments_configured_needs_no_payment(
    app, client, learner, courses_dir, sync_courses
) -> None:
    meta = courses_dir / "mini-course/course.toml"
    meta.write_text(meta.read_text().replace("price_cents = 0", "price_cents = 49500"))
    sync_courses()
    page = client.get(BASE).get_data(as_text=True)
    assert "Online payment is not configured" in page and "495.00 USD" in page
    _enroll(client)
    enrollment = db.session.scalar(select(Enrollment).where(Enrollment.user_id == learner.id))
    assert enrollment.source.value == "no_payment_configured"


def test_modules_open_in_order(client, learner) -> None:
    assert client.get(f"{BASE}/modules/01-basics").status_code == 302  # not enrolled yet
    _enroll(client)
    assert client.get(f"{BASE}/modules/01-basics").status_code == 200
    locked = client.get(f"{BASE}/modules/02-practice")
    assert locked.status_code == 302 and locked.headers["Location"].endswith(BASE)
    assert client.post(f"{BASE}/modules/02-practice/complete").status_code == 302
    assert db.session.scalar(select(func.count()).select_from(ModuleProgress)) == 0


def test_quiz_needs_the_lesson_first(client, learner) -> None:
    _enroll(client)
    client.post(f"{BASE}/modules/01-basics/quiz")
    assert db.session.scalar(select(func.count()).select_from(QuizAttempt)) == 0


def test_pass_the_quiz_then_finish_and_get_the_certificate(client, learner, mail) -> None:
    _enroll(client)
    lesson = client.get(f"{BASE}/modules/01-basics").get_data(as_text=True)
    assert "Call-out boxes are rendered" in lesson and "<script>alert" not in lesson
    _complete_lesson(client, "01-basics")
    attempt = _start(client)
    page = client.get(f"/attempts/{attempt.id}").get_data(as_text=True)
    assert "What is the capital of France?" in page
    _answer_all(client, attempt, _paris(attempt), "true")
    # a reload shows what was saved
    page = client.get(f"/attempts/{attempt.id}").get_data(as_text=True)
    assert page.count("checked") == 2
    assert client.post(f"/attempts/{attempt.id}/submit").status_code == 302
    attempt = db.session.get(QuizAttempt, attempt.id)
    assert attempt.status == AttemptStatus.SUBMITTED and attempt.score == 1.0 and attempt.passed
    result = client.get(f"/attempts/{attempt.id}/result").get_data(as_text=True)
    assert "100.0%" in result and "Passed" in result
    _complete_lesson(client, "02-practice")
    # evaluation is required before the certificate: two steps of three done
    assert "67% complete" in client.get("/dashboard").get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Certificate)) == 0
    missing = client.post(f"{BASE}/evaluation", data={"improve": "more"})
    assert missing.status_code == 422 and "Answer every required question" in missing.get_data(
        as_text=True
    )
    done = client.post(f"{BASE}/evaluation", data={"objectives-met": "5", "improve": "nothing"})
    assert done.status_code == 302
    certificate = db.session.scalar(select(Certificate))
    assert certificate.holder_name == "Lee Learner" and certificate.course_title == "Mini course"
    assert (certificate.expires_at - certificate.issued_at).days in range(364, 367)
    enrollment = db.session.scalar(select(Enrollment))
    assert enrollment.status == EnrollmentStatus.COMPLETED
    assert mail[-1].subject == "Your certificate for Mini course"
    pdf = client.get(f"/certificates/{certificate.id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert "Download PDF" in client.get("/certificates").get_data(as_text=True)


def test_tampered_and_repeated_submissions_change_nothing(client, learner) -> None:
    _enroll(client)
    _complete_lesson(client, "01-basics")
    attempt = _start(client)
    pos = _positions(attempt)["Capital"]
    unknown_choice = client.post(f"/attempts/{attempt.id}/answers/{pos}", data={f"q{pos}": "99"})
    assert unknown_choice.status_code == 400 and "not valid" in unknown_choice.get_json()["error"]
    not_in_attempt = client.post(f"/attempts/{attempt.id}/answers/7", data={"q7": "0"})
    assert (
        not_in_attempt.status_code == 400
        and "not part of this attempt" in not_in_attempt.get_json()["error"]
    )
    assert (
        db.session.scalar(
            select(func.count()).select_from(QuizAttempt.answers.property.mapper.class_)
        )
        == 0
    )
    client.post(f"/attempts/{attempt.id}/submit")
    score = db.session.get(QuizAttempt, attempt.id).score
    again = client.post(f"/attempts/{attempt.id}/submit", follow_redirects=True)
    assert "already submitted" in again.get_data(as_text=True)
    late = client.post(f"/attempts/{attempt.id}/answers/{pos}", data={f"q{pos}": "0"})
    assert late.status_code == 409
    assert db.session.get(QuizAttempt, attempt.id).score == score


def test_attempt_limit_and_cooldown(client, learner) -> None:
    _enroll(client)
    _complete_lesson(client, "01-basics")
    first = _start(client)
    client.post(f"/attempts/{first.id}/submit")  # nothing answered: 0%
    assert db.session.get(QuizAttempt, first.id).passed is False
    blocked = client.post(f"{BASE}/modules/01-basics/quiz", follow_redirects=True).get_data(
        as_text=True
    )
    assert "try again after a short break" in blocked
    with freeze_time(utcnow() + timedelta(minutes=11)):
        second = _start(client)
        assert second.number == 2
        client.post(f"/attempts/{second.id}/submit")
    with freeze_time(utcnow() + timedelta(minutes=30)):
        refused = client.post(f"{BASE}/modules/01-basics/quiz", follow_redirects=True).get_data(
            as_text=True
        )
    assert "used all 2 attempts" in refused
    assert db.session.scalar(select(func.count()).select_from(QuizAttempt)) == 2


def test_time_limit_scores_what_was_saved(client, learner, courses_dir, sync_courses) -> None:
    meta = courses_dir / "mini-course/modules/01-basics/module.toml"
    meta.write_text(meta.read_text().replace("time_limit_minutes = 0", "time_limit_minutes = 5"))
    sync_courses()
    _enroll(client)
    _complete_lesson(client, "01-basics")
    attempt = _start(client)
    pos = _positions(attempt)
    client.post(f"/attempts/{attempt.id}/answers/{pos['Sky']}", data={f"q{pos['Sky']}": "true"})
    with freeze_time(utcnow() + timedelta(minutes=6)):
        late = client.post(
            f"/attempts/{attempt.id}/answers/{pos['Capital']}", data={f"q{pos['Capital']}": "0"}
        )
        assert late.status_code == 409 and "Time is up" in late.get_json()["error"]
    attempt = db.session.get(QuizAttempt, attempt.id)
    assert attempt.status == AttemptStatus.TIMED_OUT
    assert attempt.score == 0.5  # the saved true/false answer counts, the late one does not


def test_another_learners_attempt_is_not_found(app, client, learner, make_user) -> None:
    _enroll(client)
    _complete_lesson(client, "01-basics")
    attempt = _start(client)
    other = make_user()
    other_client = app.test_client()
    from tests.conftest import log_in

    log_in(other_client, other)
    assert other_client.get(f"/attempts/{attempt.id}").status_code == 404
    assert (
        other_client.post(f"/attempts/{attempt.id}/answers/0", data={"q0": "0"}).status_code == 404
    )
    assert other_client.post(f"/attempts/{attempt.id}/submit").status_code == 404


def test_scheduled_job_scores_attempts_past_their_time_limit(
    client, learner, courses_dir, sync_courses
) -> None:
    from lms.training.tasks import score_expired_attempts

    meta = courses_dir / "mini-course/modules/01-basics/module.toml"
    meta.write_text(meta.read_text().replace("time_limit_minutes = 0", "time_limit_minutes = 5"))
    sync_courses()
    _enroll(client)
    _complete_lesson(client, "01-basics")
    attempt = _start(client)
    pos = _positions(attempt)
    client.post(f"/attempts/{attempt.id}/answers/{pos['Sky']}", data={f"q{pos['Sky']}": "true"})
    assert score_expired_attempts() == 0  # still within the limit
    with freeze_time(utcnow() + timedelta(minutes=6)):
        assert score_expired_attempts() == 1
    attempt = db.session.get(QuizAttempt, attempt.id)
    assert attempt.status == AttemptStatus.TIMED_OUT and attempt.score == 0.5


def test_double_clicks_do_not_cause_errors(client, learner, monkeypatch) -> None:
    """A parallel request that won the race (unique constraint) leaves a normal page, not a 500."""
    from sqlalchemy.exc import IntegrityError

    from lms.training import quiz, services

    def lost_race(*_args, **_kwargs):
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    monkeypatch.setattr(services, "enroll", lost_race)
    assert client.post(f"{BASE}/enroll").status_code == 302
    monkeypatch.undo()
    _enroll(client)
    _complete_lesson(client, "01-basics")
    monkeypatch.setattr(quiz, "start_attempt", lost_race)
    response = client.post(f"{BASE}/modules/01-basics/quiz")
    assert response.status_code == 302 and "#quiz" in response.headers["Location"]


def test_modules_left_agrees_with_the_course_progress_at_every_step(client, learner) -> None:
    """The one-statement check that spares a full progress read after each lesson and quiz
    says exactly what the progress says, from the first module to the last."""
    from lms.training import services

    _enroll(client)
    enrollment = db.session.scalar(select(Enrollment).where(Enrollment.user_id == learner.id))

    def agree() -> bool:
        left = services.modules_left(enrollment)
        assert left == (not services.course_progress(enrollment).all_modules_complete)
        return left

    assert agree()
    _complete_lesson(client, "01-basics")  # its quiz is still to pass
    assert agree()
    progress = db.session.scalar(select(ModuleProgress).where(ModuleProgress.user_id == learner.id))
    progress.quiz_passed_at = progress.completed_at = utcnow()
    db.session.commit()
    assert agree()
    _complete_lesson(client, "02-practice")
    assert not agree()


def test_an_attempts_questions_are_parsed_once_and_again_when_replaced(
    client, learner, monkeypatch
) -> None:
    """A submit reads the frozen questions three times (form, checks, scoring): the JSON is
    parsed once per loaded attempt; a regrade assigns a new list, which is parsed afresh."""
    from lms.training import quiz
    from lms.training.gift import Question

    _enroll(client)
    _complete_lesson(client, "01-basics")
    attempt = _start(client)
    parsed: list[str] = []
    original = Question.from_dict.__func__

    def counting(cls, data):
        parsed.append(data["title"])
        return original(cls, data)

    monkeypatch.setattr(Question, "from_dict", classmethod(counting))
    first = quiz.frozen_questions(attempt)
    again = quiz.frozen_questions(attempt)
    assert [f.question for f in again] == [f.question for f in first]
    assert quiz.frozen_question(attempt, 1).question == first[1].question
    assert len(parsed) == len(attempt.questions)  # once each, not three times
    assert first[0].key == first[0].question.key()
    replaced = [dict(entry) for entry in attempt.questions]
    replaced[0] = {**replaced[0], "question": {**replaced[0]["question"], "text": "Changed?"}}
    attempt.questions = replaced
    assert quiz.frozen_questions(attempt)[0].question.text == "Changed?"
    assert quiz.frozen_question(attempt, 0).question.text == "Changed?"
    assert len(parsed) == 2 * len(attempt.questions)


def test_saved_answers_keep_their_score_and_the_submit_rewrites_none(
    client, learner, count_queries
) -> None:
    _enroll(client)
    _complete_lesson(client, "01-basics")
    attempt = _start(client)
    _answer_all(client, attempt, 0, "false")  # Capital: the first choice; Sky: wrong
    pos = _positions(attempt)
    saved = {
        a.position: a.fraction
        for a in db.session.scalars(
            select(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt.id)
        )
    }
    capital = attempt.questions[pos["Capital"]]["question"]["answers"][0]["text"]
    assert saved == {pos["Capital"]: 1.0 if capital == "Paris" else 0.0, pos["Sky"]: 0.0}
    # The submit (the page re-sends the saved answers) scores them without rewriting them.
    form = {f"q{pos['Capital']}": "0", f"q{pos['Sky']}": "false"}
    with count_queries as q:
        assert client.post(f"/attempts/{attempt.id}/submit", data=form).status_code == 302
    assert not [s for s in q.statements if s.lstrip().startswith("UPDATE attempt_answers")]
    attempt = db.session.get(QuizAttempt, attempt.id, populate_existing=True)
    assert attempt.status == AttemptStatus.SUBMITTED
    assert attempt.score == sum(saved.values()) / 2


def test_the_learners_progress_reads_the_evaluation_with_the_enrolments(
    client, learner, count_queries
) -> None:
    from lms.training import services

    _enroll(client)
    for module in ("01-basics", "02-practice"):
        _complete_lesson(client, module)
        if module == "01-basics":
            attempt = _start(client)
            _answer_all(client, attempt, _paris(attempt), "true")
            assert client.post(f"/attempts/{attempt.id}/submit").status_code == 302
    (before,) = services.learner_progress(learner)
    assert before.all_modules_complete and not before.evaluation_done and before.percent == 67
    client.post(f"{BASE}/evaluation", data={"objectives-met": "5", "improve": "nothing"})
    with count_queries as q:
        (after,) = services.learner_progress(learner)
        assert after.evaluation_done and after.percent == 100
    assert not any(sql.startswith("SELECT evaluation_responses") for sql in q.statements), (
        q.statements
    )
