"""The admin's decisions, the therapist's edits, e-mails, the dashboard and the validity rule."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from lms.audit import AuditEvent
from lms.extensions import db
from lms.licensure import services
from lms.licensure.models import Attestation, InsurancePolicy, RecordStatus
from tests.licensure.conftest import days, fresh, license_form, pdf_file, post_multipart


def actions(record) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == record.kind, AuditEvent.object_id == str(record.id))
            .order_by(AuditEvent.id)
        )
    )


def decide(client, lic, **data):
    data.setdefault("revision", str(lic.revision))
    return client.post(f"/admin/licensure/licenses/{lic.id}", data=data)


def test_queue_lists_pending_oldest_first_with_filters(submitted, admin, client_for) -> None:
    first = submitted(number="A1", state="CA")
    second = submitted(number="B2", state="NY", license_type="lcsw")
    first = fresh(first)
    first.submitted_at -= timedelta(days=10)
    db.session.commit()
    admin_client = client_for(admin)
    # The numbers as the table shows them (">A1<"): a bare "B2" can occur in a random token.
    page = admin_client.get("/admin/licensure").get_data(as_text=True)
    assert page.index(">A1<") < page.index(">B2<")
    only_ny = admin_client.get("/admin/licensure?state=NY").get_data(as_text=True)
    assert ">B2<" in only_ny and ">A1<" not in only_ny
    only_lcsw = admin_client.get("/admin/licensure?license_type=lcsw").get_data(as_text=True)
    assert ">B2<" in only_lcsw and ">A1<" not in only_lcsw
    old = admin_client.get("/admin/licensure?age=7").get_data(as_text=True)
    assert ">A1<" in old and ">B2<" not in old
    second = fresh(second)
    doc_id = second.documents[0].id
    review = admin_client.get(f"/admin/licensure/licenses/{second.id}").get_data(as_text=True)
    assert f"/licensure/documents/{doc_id}" in review and "<iframe" in review


def test_queue_finds_a_therapist_by_name_email_or_number(make_user, admin, client_for) -> None:
    from tests.certification.conftest import give_insurance, give_license

    ann = make_user(full_name="Ann Searchable", email="ann.s@example.org")
    bob = make_user(full_name="Bob Other", email="bob.o@example.org")
    give_license(ann, number="TX-4471", state="TX", status=RecordStatus.PENDING)
    give_license(bob, number="CO-9000", status=RecordStatus.PENDING)
    give_insurance(ann, policy_number="POL-ANN-1", status=RecordStatus.PENDING)
    give_insurance(bob, policy_number="POL-BOB-2", status=RecordStatus.PENDING)
    admin_client = client_for(admin)

    def shown(query: str) -> set[str]:
        page = admin_client.get(f"/admin/licensure?{query}")
        assert page.status_code == 200, query
        return set(
            re.findall(r">(TX-4471|CO-9000|POL-ANN-1|POL-BOB-2)<", page.get_data(as_text=True))
        )

    assert shown("") == {"TX-4471", "CO-9000"}
    assert shown("q=searchable") == {"TX-4471"}  # any case, part of the name
    assert shown("q=bob.o%40example") == {"CO-9000"}  # part of the e-mail
    assert shown("q=4471") == {"TX-4471"}  # part of the number
    assert shown("q=ann&kind=insurance") == {"POL-ANN-1"}
    assert shown("q=pol-bob&kind=insurance") == {"POL-BOB-2"}
    assert shown("q=nobody") == set()
    assert "Nothing matches these filters." in admin_client.get(
        "/admin/licensure?q=nobody"
    ).get_data(as_text=True)
    too_long = admin_client.get("/admin/licensure?q=" + "x" * 201)
    assert too_long.status_code == 422
    assert "Field cannot be longer than 200 characters." in too_long.get_data(as_text=True)
    # the export holds the same records as the filtered page
    exported = admin_client.get("/admin/licensure.csv?q=searchable").get_data(as_text=True)
    assert "TX-4471" in exported and "CO-9000" not in exported


def test_verify_records_who_when_how_and_tells_the_therapist(
    submitted, admin, client_for, client, mail
) -> None:
    lic = submitted()
    response = decide(
        client_for(admin), lic, action="verify", method="State board website, checked today"
    )
    assert response.status_code == 302
    lic = fresh(lic)
    assert lic.status == RecordStatus.VERIFIED
    assert lic.decided_by_id == admin.id and lic.decided_at is not None
    assert lic.decision_method == "State board website, checked today"
    assert lic.reverify_on == services.add_months(services.today(), 36)
    assert actions(lic) == ["license.submitted", "license.document_added", "license.verified"]
    assert [m.subject for m in mail] == ["Verified: your license"]
    assert "LMFT license LMFT 12345 in California" in mail[0].text
    assert services.holds_verified_license(lic.user_id, "CA")
    assert not services.holds_verified_license(lic.user_id, "NY")
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "Verified" in dashboard and "LMFT 12345" in dashboard


def test_verify_needs_the_method(submitted, admin, client_for) -> None:
    lic = submitted()
    response = decide(client_for(admin), lic, action="verify", method="")
    assert response.status_code == 422
    assert "Say how you checked it" in response.get_data(as_text=True)
    lic = fresh(lic)
    assert lic.status == RecordStatus.PENDING


def test_reject_with_a_reason_shows_on_the_dashboard(
    submitted, admin, client_for, client, mail
) -> None:
    lic = submitted()
    admin_client = client_for(admin)
    assert decide(admin_client, lic, action="reject").status_code == 422  # no reason
    response = decide(admin_client, lic, action="reject", message="Number not found at the board")
    assert response.status_code == 302
    lic = fresh(lic)
    assert lic.status == RecordStatus.REJECTED
    assert [m.subject for m in mail] == ["Not accepted: your license"]
    assert "Number not found at the board" in mail[0].text
    assert "Number not found at the board" in client.get("/dashboard").get_data(as_text=True)
    assert not services.holds_verified_license(lic.user_id, "CA")


def test_request_changes_then_the_edit_goes_back_to_the_queue(
    submitted, admin, client_for, client, mail
) -> None:
    lic = submitted()
    admin_client = client_for(admin)
    decide(admin_client, lic, action="request_changes", message="Upload the back of the card")
    lic = fresh(lic)
    assert lic.status == RecordStatus.CHANGES_REQUESTED
    assert "Upload the back of the card" in client.get("/dashboard").get_data(as_text=True)
    data = license_form()
    data["documents"] = [pdf_file("back.pdf")]
    assert post_multipart(client, f"/licensure/licenses/{lic.id}/edit", data).status_code == 302
    lic = fresh(lic)
    assert lic.status == RecordStatus.PENDING and len(lic.documents) == 2
    assert lic.decision_note is None and lic.revision == 2
    assert [m.subject for m in mail] == ["Changes needed: your license"]


def test_editing_a_verified_license_sends_it_back_for_verification(
    submitted, admin, client_for, client
) -> None:
    lic = submitted()
    admin_client = client_for(admin)
    decide(admin_client, lic, action="verify", method="Board website")
    stale_revision = lic.revision
    data = license_form(expires_on=days(700).isoformat())
    response = post_multipart(client, f"/licensure/licenses/{lic.id}/edit", data)
    assert response.status_code == 302
    lic = fresh(lic)
    assert lic.status == RecordStatus.PENDING and lic.expires_on == days(700)
    assert not services.holds_verified_license(lic.user_id, "CA")
    assert actions(lic)[-2:] == ["license.updated", "license.resubmitted"]
    # The admin's form from before the edit is refused: they must look again.
    response = admin_client.post(
        f"/admin/licensure/licenses/{lic.id}",
        data={"revision": str(stale_revision), "action": "verify", "method": "Board"},
    )
    assert response.status_code == 422
    assert "changed this record while you were reviewing" in response.get_data(as_text=True)
    assert decide(admin_client, lic, action="verify", method="Board").status_code == 302


def test_saving_without_changes_changes_nothing(submitted, admin, client_for, client) -> None:
    lic = submitted()
    decide(client_for(admin), lic, action="verify", method="Board website")
    response = post_multipart(client, f"/licensure/licenses/{lic.id}/edit", license_form())
    assert response.status_code == 302
    lic = fresh(lic)
    assert lic.status == RecordStatus.VERIFIED and lic.revision == 1


def test_bad_npi_and_dates_are_refused(client, login, therapist) -> None:
    from tests.licensure.conftest import submit_license

    login(therapist)
    response = submit_license(client, npi="1234567890")
    assert response.status_code == 422 and "not a valid NPI" in response.get_data(as_text=True)
    response = submit_license(client, expires_on=days(-1).isoformat())
    assert response.status_code == 422 and "already expired" in response.get_data(as_text=True)
    response = submit_license(client, files=[])
    assert response.status_code == 422 and "Add the license document" in response.get_data(
        as_text=True
    )


def test_insurance_and_attestation(client, login, therapist, admin, client_for, mail) -> None:
    login(therapist)
    data = {
        "carrier": "Example Mutual",
        "policy_number": "P-1",
        "per_claim": "1000000",
        "aggregate": "3000000",
        "expires_on": days(200).isoformat(),
        "documents": [pdf_file("coi.pdf")],
    }
    assert post_multipart(client, "/licensure/insurance/new", data).status_code == 302
    policy = db.session.scalars(select(InsurancePolicy)).one()
    assert (policy.per_claim_cents, policy.aggregate_cents) == (100_000_000, 300_000_000)
    response = client_for(admin).post(
        f"/admin/licensure/insurance/{policy.id}",
        data={"revision": "1", "action": "verify", "method": "Called the carrier"},
    )
    assert response.status_code == 302
    policy = fresh(policy)
    assert policy.status == RecordStatus.VERIFIED
    assert mail[-1].subject == "Verified: your malpractice insurance"

    answers = {
        "discipline_history": "no",
        "license_restrictions": "no",
        "felony": "yes",
        "impairment": "no",
        "current_coverage": "yes",
        "signed_name": "tina  therapist",
        "signed_on": services.today().isoformat(),
    }
    response = client.post("/licensure/attestation", data=answers)
    assert response.status_code == 422 and "Explain" in response.get_data(as_text=True)
    answers["explanation"] = "A 1998 conviction, expunged."
    response = client.post("/licensure/attestation", data={**answers, "signed_name": "Someone"})
    assert response.status_code == 422
    assert client.post("/licensure/attestation", data=answers).status_code == 302
    row = db.session.scalars(select(Attestation)).one()
    assert row.felony and row.needs_attention and row.signed_name == "tina  therapist"
