"""Regrading a corrected question: the dry run lists exactly what apply then does; scores,
pass/fail, best scores and completions follow; audited; learners e-mailed; idempotent;
incompatible edits refused."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from lms.analytics import regrade
from lms.audit import AuditEvent
from lms.extensions import db
from lms.training.gift import Question
from lms.training.models import (
    AttemptAnswer,
    Certificate,
    Enrollment,
    EnrollmentStatus,
    ModuleProgress,
    ModuleVersion,
    QuizAttempt,
)
from tests.analytics.conftest import QUIZ, SLUG, Learners, course, edit_quiz, screen_rows

CORRECT = "{=Paris ~London ~Berlin}"
MISTAKE = "{~Paris =London ~Berlin}"  # London marked right by mistake
PAGE = f"/admin/courses/{SLUG}/modules/{QUIZ}/questions/1/regrade"


@pytest.fixture
def cohort(make_user, courses_dir, sync_courses) -> dict[str, Any]:
    """Learners who took the quiz while Capital had the wrong answer marked right.

    No course evaluation here, so passing the quiz completes the course.
    """
    edit_quiz(courses_dir, CORRECT, MISTAKE)
    (courses_dir / SLUG / "evaluation.toml").unlink()
    sync_courses()
    learners = Learners(make_user)
    people = {
        # under the mistake -> after the fix (pass mark 75%)
        "Pat": learners.new(
            "Pat Paris", {"Capital": 0, "Sky": True, "Colour": "green", "Sum": "4"}
        ),
        "Lou": learners.new(
            "Lou London", {"Capital": 1, "Sky": True, "Colour": "green", "Sum": "4"}
        ),
        "Dee": learners.new("Dee Drop", {"Capital": 1, "Sky": True, "Colour": "green", "Sum": "3"}),
        "Ned": learners.new(
            "Ned Nochange", {"Capital": 2, "Sky": True, "Colour": "green", "Sum": "4"}
        ),
        "Fay": learners.new("Fay Fail", {"Capital": 1, "Sky": False, "Colour": "blue", "Sum": "3"}),
        "Ann": learners.new("Ann Unanswered", {"Sky": False, "Colour": "green", "Sum": "4"}),
        "Sam": learners.new("Sam Started"),
    }
    learners.attempt(people["Fay"], {"Capital": 0, "Sky": True, "Colour": "blue", "Sum": "4"})
    learners.attempt(people["Sam"], {"Capital": 0}, submit=False)
    edit_quiz(courses_dir, MISTAKE, CORRECT)
    sync_courses()
    return {name: user.id for name, user in people.items()}


def _target() -> regrade.Target:
    target = regrade.find_target(course(), QUIZ, 1)
    assert target is not None
    return target


def _scores() -> dict[tuple[str, int], tuple[float, bool]]:
    from lms.accounts.models import User

    return {
        (name.split()[0], number): (round(score, 4), passed)
        for name, number, score, passed in db.session.execute(
            select(User.full_name, QuizAttempt.number, QuizAttempt.score, QuizAttempt.passed)
            .join(User, User.id == QuizAttempt.user_id)
            .where(QuizAttempt.score.is_not(None))
        )
    }


EXPECTED = [
    # learner, attempt, old score, new score, old passed, new passed
    ("Dee Drop", 1, 0.75, 0.5, True, False),
    ("Fay Fail", 1, 0.25, 0.0, False, False),
    ("Fay Fail", 2, 0.5, 0.75, False, True),
    ("Lou London", 1, 1.0, 0.75, True, True),
    ("Pat Paris", 1, 0.75, 1.0, True, True),
]


def _summary(changes: list[regrade.AttemptChange]) -> list[tuple]:
    return [
        (c.learner, c.number, c.old_score, c.new_score, c.old_passed, c.new_passed) for c in changes
    ]


def test_the_dry_run_is_exactly_what_apply_then_does(cohort, admin, mail) -> None:
    before = _scores()
    dry = regrade.plan(_target())
    assert dry.refusal is None
    assert _summary(dry.changes) == EXPECTED
    assert len(dry.rescored) == 6 and dry.unchanged == 1  # Ned: Berlin is wrong either way
    assert _scores() == before  # a dry run changes nothing
    assert mail == []

    done = regrade.apply(_target(), admin, fingerprint=dry.fingerprint)
    db.session.commit()
    assert done.rescored == dry.rescored
    after = _scores()
    for change in dry.rescored:
        first = change.learner.split()[0]
        assert after[(first, change.number)] == (round(change.new_score, 4), change.new_passed)
    untouched = {k: v for k, v in before.items() if k[0] in ("Ann",)}
    assert {k: after[k] for k in untouched} == untouched

    # Every regraded attempt now holds the current definition of the question.
    current = _target().current
    for change in dry.rescored:
        attempt = db.session.get(QuizAttempt, change.attempt_id)
        assert attempt.questions[0]["question"] == current.data
        assert Question.from_dict(attempt.questions[0]["question"]).key() == current.key
        assert attempt.answers[0].question_key == current.key


def test_progress_follows_new_pass_completes_the_course_and_fail_keeps_completion(
    cohort, admin, mail
) -> None:
    dee_certificate = db.session.scalar(
        select(Certificate).where(Certificate.user_id == cohort["Dee"])
    )
    assert dee_certificate is not None
    assert (
        db.session.scalar(select(Certificate).where(Certificate.user_id == cohort["Fay"])) is None
    )
    regrade.apply(_target(), admin)
    db.session.commit()

    # Fay's second attempt now passes: the module and the course complete, certificate issued.
    fay = db.session.scalar(select(Enrollment).where(Enrollment.user_id == cohort["Fay"]))
    assert fay.status == EnrollmentStatus.COMPLETED and fay.completed_at is not None
    certificate = db.session.scalar(select(Certificate).where(Certificate.user_id == cohort["Fay"]))
    assert certificate is not None and certificate.revoked_at is None
    progress = db.session.scalars(
        select(ModuleProgress)
        .join(ModuleVersion, ModuleVersion.id == ModuleProgress.module_version_id)
        .where(ModuleProgress.user_id == cohort["Fay"], ModuleVersion.slug == QUIZ)
        .order_by(ModuleProgress.module_version_id)
    ).all()
    # Both the version she took and the corrected version she was moved to are passed.
    assert len(progress) == 2
    assert all(p.quiz_passed_at and p.completed_at for p in progress)
    assert progress[0].best_score == pytest.approx(0.75)

    # Dee drops below the pass mark: keeps completion and certificate; best score follows.
    dee = db.session.scalar(
        select(ModuleProgress)
        .join(ModuleVersion, ModuleVersion.id == ModuleProgress.module_version_id)
        .where(ModuleProgress.user_id == cohort["Dee"], ModuleVersion.slug == QUIZ)
    )
    assert dee.best_score == pytest.approx(0.5) and dee.completed_at is not None
    db.session.refresh(dee_certificate)
    assert dee_certificate.revoked_at is None

    # Pat's best score rises.
    pat = db.session.scalar(
        select(ModuleProgress.best_score)
        .where(ModuleProgress.user_id == cohort["Pat"])
        .join(ModuleVersion, ModuleVersion.id == ModuleProgress.module_version_id)
        .where(ModuleVersion.slug == QUIZ)
    )
    assert pat == pytest.approx(1.0)


def test_audited_and_each_affected_learner_gets_one_email(cohort, admin, mail) -> None:
    regrade.apply(_target(), admin)
    db.session.commit()
    rows = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action.in_(("quiz.regraded", "quiz.regrade_applied")))
        .order_by(AuditEvent.id)
    ).all()
    per_attempt = [r for r in rows if r.action == "quiz.regraded"]
    assert len(per_attempt) == 5 and all(r.actor_id == admin.id for r in rows)
    assert {(r.details["old_score"], r.details["new_score"]) for r in per_attempt} == {
        (75.0, 50.0),
        (25.0, 0.0),
        (50.0, 75.0),
        (100.0, 75.0),
        (75.0, 100.0),
    }
    (summary,) = [r for r in rows if r.action == "quiz.regrade_applied"]
    assert summary.details["attempts_rescored"] == 6
    assert summary.details["attempts_changed"] == 5
    assert summary.details["learners"] == 4
    assert summary.details["newly_passed"] == 1 and summary.details["newly_failed"] == 1

    from lms.accounts.models import User

    regraded = [m for m in mail if "quiz score" in m.subject]
    affected = [cohort[name] for name in ("Dee", "Fay", "Lou", "Pat")]
    emails = db.session.scalars(select(User.email).where(User.id.in_(affected))).all()
    assert sorted(m.to for m in regraded) == sorted(emails)
    by_name = {m.text.splitlines()[0]: m for m in regraded}
    fay = by_name["Hello Fay Fail,"]
    assert fay.subject == "Your quiz score for Final test was corrected"
    assert "Attempt 1: 25.0% -> 0.0%" in fay.text and "Attempt 2: 50.0% -> 75.0%" in fay.text
    assert "You have now passed this quiz." in fay.text
    assert "Fay Fail" in fay.html and "50.0% → <strong>75.0%</strong>" in fay.html
    dee = by_name["Hello Dee Drop,"]
    assert "stay as they are" in dee.text
    for message in regraded:  # nothing about anyone else
        others = {"Pat Paris", "Lou London", "Dee Drop", "Ned Nochange", "Fay Fail"}
        named = {n for n in others if n in message.text or n in message.html}
        assert len(named) == 1
    assert any(m.subject == "Your certificate for Stats course" for m in mail)


def test_applying_twice_changes_nothing_the_second_time(cohort, admin, mail) -> None:
    regrade.apply(_target(), admin)
    db.session.commit()
    scores = _scores()
    audits = db.session.scalar(select(func.count()).select_from(AuditEvent))
    sent = len(mail)
    again = regrade.plan(_target())
    assert again.rescored == [] and again.refusal is None
    done = regrade.apply(_target(), admin)
    db.session.commit()
    assert done.rescored == []
    assert _scores() == scores
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == audits
    assert len(mail) == sent


def test_an_incompatible_edit_is_refused(cohort, admin, courses_dir, sync_courses, mail) -> None:
    edit_quiz(courses_dir, CORRECT, "{=Paris ~London ~Berlin ~Madrid}")
    sync_courses()
    before = _scores()
    dry = regrade.plan(_target())
    assert dry.refusal is not None and "had 3 answers and now has 4" in dry.refusal
    assert dry.rescored == []
    with pytest.raises(regrade.RegradeError) as refused:
        regrade.apply(_target(), admin)
    assert "cannot be regraded" in refused.value.message
    db.session.rollback()
    assert _scores() == before and mail == []


def test_only_definitions_of_the_same_shape_are_regraded(
    cohort, admin, make_user, courses_dir, sync_courses
) -> None:
    regrade.apply(_target(), admin)
    db.session.commit()
    # Another author adds a fourth answer and marks it right by mistake; one learner answers.
    edit_quiz(courses_dir, CORRECT, "{~Paris ~London ~Berlin =Madrid}")
    sync_courses()
    Learners(make_user).new("Val Version", {"Capital": 0, "Sky": True, "Colour": "green"})
    edit_quiz(courses_dir, "{~Paris ~London ~Berlin =Madrid}", "{=Paris ~London ~Berlin ~Madrid}")
    sync_courses()
    dry = regrade.plan(_target())
    assert dry.refusal is None
    assert [e.problem for e in dry.skipped] == ["it had 3 answers and now has 4"]
    assert _summary(dry.changes) == [("Val Version", 1, 0.5, 0.75, False, True)]


def _confirm(client, fingerprint: str, **extra: str):
    return client.post(PAGE, data={"fingerprint": fingerprint, "confirm": "y", **extra})


def _fingerprint(html: str) -> str:
    import re

    match = re.search(r'name="fingerprint" type="hidden" value="([0-9a-f]+)"', html)
    assert match, "no fingerprint in the form"
    return match.group(1)


def test_the_pages_dry_run_confirm_apply(cohort, client, login, admin, mail) -> None:
    login(admin)
    module_page = client.get(f"/admin/courses/{SLUG}/modules/{QUIZ}").get_data(as_text=True)
    assert "Question 1: Capital" in module_page
    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    header, rows = screen_rows(html, "dry-run")
    assert header == ["Learner", "Attempt", "Score", "Result"]
    assert rows == [
        ["Dee Drop", "1", "75.0% → 50.0%", "Passed → would fail"],
        ["Fay Fail", "1", "25.0% → 0.0%", "Failed → would fail"],
        ["Fay Fail", "2", "50.0% → 75.0%", "Failed → would pass"],
        ["Lou London", "1", "100.0% → 75.0%", "Passed → would pass"],
        ["Pat Paris", "1", "75.0% → 100.0%", "Passed → would pass"],
    ]
    assert "keeps their module completion and any certificate" in html
    assert "data-confirm=" in html
    before = _scores()

    unconfirmed = client.post(PAGE, data={"fingerprint": _fingerprint(html)})
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm the regrade." in unconfirmed.get_data(as_text=True)
    stale = _confirm(client, "0" * 64)
    assert stale.status_code == 409 and "changed since you looked" in stale.get_data(as_text=True)
    assert _scores() == before and mail == []

    done = _confirm(client, _fingerprint(html))
    assert done.status_code == 302
    assert done.headers["Location"].endswith(f"/admin/courses/{SLUG}/modules/{QUIZ}")
    result = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Regraded question 1: 6 attempts re-scored, 5 scores changed, 4 learners e-mailed." in (
        result
    )
    assert "Question 1: Capital" not in result  # nothing left to regrade
    assert len([m for m in mail if "quiz score" in m.subject]) == 4
    assert "Nothing to regrade" in client.get(PAGE).get_data(as_text=True)
    again = _confirm(client, _fingerprint(html))  # the same form sent twice
    assert again.status_code == 409 and "Nothing to regrade" in again.get_data(as_text=True)
    assert len([m for m in mail if "quiz score" in m.subject]) == 4


def test_the_page_shows_the_refusal(cohort, client, login, admin, courses_dir, sync_courses):
    edit_quiz(courses_dir, CORRECT, "{=Paris ~London ~Berlin ~Madrid}")
    sync_courses()
    login(admin)
    html = client.get(PAGE).get_data(as_text=True)
    assert "This question cannot be regraded" in html and "Apply the regrade" not in html
    posted = _confirm(client, "")
    assert posted.status_code == 422
    assert "This question cannot be regraded" in posted.get_data(as_text=True)
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AttemptAnswer)
            .where(AttemptAnswer.question_key == _target().current.key)
        )
        == 0
    )
