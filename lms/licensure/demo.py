"""Demo licensure data and tiny, valid sample documents (also used by the tests)."""

from __future__ import annotations

import struct
import zlib
from datetime import timedelta

from sqlalchemy import select

from lms.accounts.models import User
from lms.extensions import db
from lms.licensure import services
from lms.licensure.data import LicenseType
from lms.licensure.documents import Upload
from lms.licensure.models import Attestation, InsurancePolicy, License


def tiny_pdf(text: str = "Sample license document") -> bytes:
    """A one-page PDF saying ``text``, with a correct cross-reference table."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 18 Tf 72 720 Td ({safe}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


def tiny_png(width: int = 40, height: int = 24, rgb: tuple[int, int, int] = (31, 78, 121)) -> bytes:
    """A solid-colour PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    row = b"\x00" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def seed_licensure(admin: User, applicant: User, partner: User) -> list[str]:
    """The partner: verified license and insurance, signed attestation. The applicant: one
    pending license. Safe to run again (records that exist are left alone)."""
    lines = []
    day = services.today()
    # Licensed in two states, so the demo partner's referrals (and matches) span both.
    for state, name, number in (("CO", "Colorado", "MFT.0001234"), ("UT", "Utah", "MFT-998877")):
        held = select(License.id).where(License.user_id == partner.id, License.state == state)
        if db.session.scalar(held):
            continue
        lic = services.add_license(
            partner,
            {
                "license_type": LicenseType.LMFT,
                "state": state,
                "number": number,
                "issued_on": day - timedelta(days=3 * 365),
                "expires_on": day + timedelta(days=400),
                "npi": "1245319599",
            },
            [
                Upload(
                    f"{name.lower()}-lmft.pdf", tiny_pdf(f"{name} LMFT license"), "application/pdf"
                )
            ],
        )
        services.decide(
            lic,
            admin,
            "verify",
            revision=lic.revision,
            method=f"{name} state board website, checked on {day.isoformat()}",
        )
        lines.append(f"licensure: partner's verified {name} LMFT license")
    if not db.session.scalar(
        select(InsurancePolicy.id).where(InsurancePolicy.user_id == partner.id)
    ):
        policy = services.add_insurance(
            partner,
            {
                "carrier": "Example Mutual",
                "policy_number": "EM-55-0042",
                "per_claim_cents": 1_000_000_00,
                "aggregate_cents": 3_000_000_00,
                "expires_on": day + timedelta(days=200),
            },
            [Upload("certificate.pdf", tiny_pdf("Certificate of insurance"), "application/pdf")],
        )
        services.decide(
            policy,
            admin,
            "verify",
            revision=policy.revision,
            method=f"Certificate checked with the carrier on {day.isoformat()}",
        )
        lines.append("licensure: partner's verified malpractice insurance")
    if not db.session.scalar(select(Attestation.id).where(Attestation.user_id == partner.id)):
        services.sign_attestation(
            partner,
            {
                "discipline_history": False,
                "license_restrictions": False,
                "felony": False,
                "impairment": False,
                "current_coverage": True,
                "explanation": None,
                "signed_name": partner.full_name,
                "signed_on": day,
            },
        )
        lines.append("licensure: partner's signed attestation")
    if not db.session.scalar(select(License.id).where(License.user_id == applicant.id)):
        services.add_license(
            applicant,
            {
                "license_type": LicenseType.LCSW,
                "state": "CA",
                "number": "LCSW 98765",
                "issued_on": day - timedelta(days=800),
                "expires_on": day + timedelta(days=500),
                "npi": None,
            },
            [Upload("california-lcsw.png", tiny_png(), "image/png")],
        )
        lines.append("licensure: applicant's California LCSW license, awaiting verification")
    return lines or ["licensure: demo records exist"]
