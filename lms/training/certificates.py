"""Certificates: issuance with an unguessable code, the PDF, verification, revocation."""

from __future__ import annotations

import base64
import calendar
import functools
import io
import re
import secrets
from datetime import datetime

from sqlalchemy import Select, bindparam, select

from lms import audit
from lms.accounts.models import User
from lms.db import utcnow
from lms.extensions import db
from lms.mail import external_url, send_email
from lms.training.models import Certificate, Enrollment

CODE_PATTERN = re.compile(r"^[A-Z2-7]{4}(?:-[A-Z2-7]{4}){4}$")


def new_code() -> str:
    """20 base32 characters (100 random bits) in groups of four, e.g. ``K7QD-...``."""
    raw = base64.b32encode(secrets.token_bytes(15)).decode()[:20]
    return "-".join(raw[i : i + 4] for i in range(0, 20, 4))


def normalise_code(code: str) -> str:
    compact = re.sub(r"[^A-Za-z0-9]", "", code or "").upper()
    return "-".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def issue_certificate(enrollment: Enrollment) -> Certificate:
    course = enrollment.course
    now = utcnow()
    certificate = Certificate(
        code=new_code(),
        user_id=enrollment.user_id,
        course_id=course.id,
        enrollment_id=enrollment.id,
        course_version_id=enrollment.course_version_id,
        holder_name=enrollment.user.full_name,
        course_title=course.title,
        ce_hours=course.ce_hours,
        approval_statement=course.approval_statement,
        issued_at=now,
        expires_at=add_months(now, course.certificate_validity_months),
    )
    db.session.add(certificate)
    db.session.flush()
    audit.record(
        "certificate.issued",
        certificate,
        actor=enrollment.user,
        code=certificate.code,
        course=course.slug,
        user_id=enrollment.user_id,
    )
    send_email(
        enrollment.user.email,
        f"Your certificate for {course.title}",
        "certificate_issued",
        reason="You completed a course on the Partner LMS.",
        user=enrollment.user,
        certificate=certificate,
        link=external_url("training.certificates"),
        verify_link=external_url("training.verify_code", code=certificate.code),
    )
    return certificate


def find_by_code(code: str) -> Certificate | None:
    normal = normalise_code(code)
    if not CODE_PATTERN.match(normal):
        return None
    return db.session.scalar(_by_code_statement(), {"code": normal})


@functools.cache
def _by_code_statement() -> Select[tuple[Certificate]]:
    return select(Certificate).where(Certificate.code == bindparam("code"))


def revoke(certificate: Certificate, admin: User, reason: str) -> None:
    if certificate.revoked_at is not None:
        raise ValueError("This certificate is already revoked.")
    reason = reason.strip()
    if not reason:
        raise ValueError("Give a reason for revoking the certificate.")
    certificate.revoked_at = utcnow()
    certificate.revoked_reason = reason[:2000]
    certificate.revoked_by_id = admin.id
    audit.record(
        "certificate.revoked",
        certificate,
        actor=admin,
        code=certificate.code,
        reason=reason,
        user_id=certificate.user_id,
    )


def render_pdf(certificate: Certificate, verify_url: str) -> bytes:
    """A one-page landscape certificate with a QR code linking to its verification page."""
    from reportlab.graphics import renderPDF
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib.colors import HexColor
    from reportlab.lib.pagesizes import landscape, letter
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfgen import canvas
    from reportlab.platypus import Paragraph

    buffer = io.BytesIO()
    width, height = landscape(letter)
    pdf = canvas.Canvas(buffer, pagesize=(width, height))
    pdf.setTitle(f"Certificate {certificate.code}")
    pdf.setAuthor("Partner LMS")
    blue = HexColor("#1f4e79")
    pdf.setStrokeColor(blue)
    pdf.setLineWidth(3)
    pdf.rect(28, 28, width - 56, height - 56)
    pdf.setLineWidth(0.8)
    pdf.rect(38, 38, width - 76, height - 76)

    pdf.setFillColor(blue)
    pdf.setFont("Helvetica-Bold", 30)
    pdf.drawCentredString(width / 2, height - 110, "Certificate of Completion")
    pdf.setFillColor(HexColor("#1d2733"))
    pdf.setFont("Helvetica", 14)
    pdf.drawCentredString(width / 2, height - 150, "This certifies that")
    pdf.setFont("Helvetica-Bold", 26)
    pdf.drawCentredString(width / 2, height - 190, certificate.holder_name)
    pdf.setFont("Helvetica", 14)
    pdf.drawCentredString(width / 2, height - 225, "has completed")
    pdf.setFont("Helvetica-Bold", 18)
    pdf.drawCentredString(width / 2, height - 255, certificate.course_title)

    pdf.setFont("Helvetica", 12)
    issued = certificate.issued_at.strftime("%B %-d, %Y")
    expires = certificate.expires_at.strftime("%B %-d, %Y")
    hours = f"{certificate.ce_hours.normalize():f}"
    pdf.drawCentredString(
        width / 2,
        height - 290,
        f"Issued {issued}   ·   Valid until {expires}   ·   {hours} continuing-education hours",
    )

    style = ParagraphStyle(
        "statement", fontName="Helvetica", fontSize=9, leading=12, textColor=HexColor("#3d4a59")
    )
    statement = Paragraph(_escape(certificate.approval_statement), style)
    _, used = statement.wrap(width - 330, 120)
    statement.drawOn(pdf, 70, 80 + (100 - used))

    qr = QrCodeWidget(verify_url)
    x0, y0, x1, y1 = qr.getBounds()
    size = 110
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(qr)
    renderPDF.draw(drawing, pdf, width - 70 - size, 92)
    pdf.setFont("Helvetica", 8)
    pdf.drawRightString(width - 70, 80, f"Verify: {verify_url}")
    pdf.setFont("Helvetica-Bold", 10)
    pdf.drawString(70, 62, f"Certificate code {certificate.code}")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
