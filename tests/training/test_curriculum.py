"""The KAP curriculum in courses/: valid, complete, passable, and the demo history it seeds."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from lms.config import PROJECT_ROOT
from lms.extensions import db
from lms.training.content import load_all
from lms.training.demo import ideal_response
from lms.training.gift import grade
from lms.training.models import Certificate, Enrollment, EnrollmentStatus, QuizAttempt
from lms.training.sync import sync_all

ROOT = PROJECT_ROOT / "courses"


@pytest.fixture(scope="module")
def curriculum():
    courses, problems = load_all(ROOT)
    assert problems == [], "\n".join(str(p) for p in problems)
    return {c.slug: c for c in courses}


def test_every_course_folder_checks_clean(curriculum) -> None:
    assert "kap-foundations" in curriculum


def test_kap_foundations_has_the_required_shape(curriculum) -> None:
    course = curriculum["kap-foundations"]
    assert course.required_for_certification
    assert course.content_status != "published" and "medical director" in course.content_review_note
    modules = course.modules
    assert len(modules) >= 9
    *teaching, final = modules
    assert "post-test" in final.slug and final.quiz is not None
    assert len(final.questions) >= 12
    for module in teaching:
        assert module.quiz is not None, module.slug
        assert 6 <= len(module.questions) <= 10, module.slug
        assert len(module.lesson_markdown.split()) > 600, module.slug
    text = " ".join(m.lesson_markdown for m in modules)
    for topic in (
        "Ahuja",
        "GAD-7",
        "PHQ-9",
        "sublingual",
        "intramuscular",
        "intravenous",
        "911",
        "integration",
    ):
        assert topic.lower() in text.lower(), topic
    kinds = {q.kind for m in modules for q in m.questions}
    assert {
        "multichoice",
        "multiresponse",
        "truefalse",
        "shortanswer",
        "numerical",
        "matching",
    } <= kinds


def test_every_question_can_be_answered_fully(curriculum) -> None:
    for module in curriculum["kap-foundations"].modules:
        for question in module.questions:
            result = grade(question, ideal_response(question))
            assert result.fraction == pytest.approx(1.0), (module.slug, question.title)


def test_seed_demo_enrols_the_applicant_and_certifies_the_partner(app, db_session) -> None:
    results, problems = sync_all(Path(ROOT))
    assert problems == []
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "partner@example.org completed" in result.output
    enrollments = {e.user.email: e for e in db.session.scalars(select(Enrollment))}
    assert enrollments["therapist@example.org"].status == EnrollmentStatus.ACTIVE
    assert enrollments["partner@example.org"].status == EnrollmentStatus.COMPLETED
    partner = enrollments["partner@example.org"].user
    certificate = db.session.scalar(select(Certificate).where(Certificate.user_id == partner.id))
    assert certificate.holder_name == "Pat Partner"
    passed = (
        select(func.count())
        .select_from(QuizAttempt)
        .where(QuizAttempt.passed, QuizAttempt.user_id == partner.id)
    )
    assert db.session.scalar(passed) == 10
    certificates = select(func.count()).select_from(Certificate)
    before = db.session.scalar(certificates)  # the partner's, and other demo partners' (matching)
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0 and "completed" not in again.output
    assert db.session.scalar(certificates) == before  # nothing issued twice
