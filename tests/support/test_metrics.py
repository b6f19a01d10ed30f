"""Metrics: volume, median and 90th-percentile time to first response, share within target."""

from __future__ import annotations

import re
from datetime import timedelta

from lms.db import utcnow
from lms.extensions import db
from lms.support import services
from lms.support.metrics import percentile


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.9) is None
    assert percentile([5.0], 0.9) == 5.0
    values = [float(v) for v in range(1, 11)]  # 1..10
    assert percentile(values, 0.9) == 9.0
    assert percentile(values, 0.5) == 5.0
    assert percentile([10.0, 1.0, 3.0], 1.0) == 10.0


def test_metrics_page_numbers_and_charts(
    client, make_certified, make_request, make_user, login
) -> None:
    therapist = make_certified()
    clinician = make_user("clinician")
    now = utcnow()
    # Urgent (15 min target) answered after 5, 10, 20 and 40 minutes; one still unanswered
    # and overdue; one high answered after 30 minutes; one routine unanswered, not yet due.
    base = now - timedelta(days=3)
    for minutes in (5, 10, 20, 40):
        request = make_request(therapist, now=base, urgency="urgent")
        services.reply(request, clinician, "ok", now=base + timedelta(minutes=minutes))
        services.resolve(request, clinician, now=base + timedelta(minutes=minutes + 1))
    make_request(therapist, now=now - timedelta(hours=1), urgency="urgent", category="medication")
    high = make_request(therapist, now=base, urgency="high", category="eligibility")
    services.reply(high, clinician, "ok", now=base + timedelta(minutes=30))
    services.resolve(high, clinician, now=base + timedelta(minutes=31))
    make_request(therapist, now=now - timedelta(hours=1), urgency="routine", category="other")
    old = make_request(therapist, now=now - timedelta(days=200), urgency="routine")
    db.session.commit()
    login(clinician)
    response = client.get("/clinical/support/metrics")
    assert response.status_code == 200
    html = response.get_data(as_text=True)

    def row(label: str) -> list[str]:
        match = re.search(rf'data-label="Urgency">{label}</th>(.*?)</tr>', html, re.S)
        assert match, label
        cells = re.findall(r"<td[^>]*>(.*?)</td>", match.group(1), re.S)
        return [" ".join(re.sub(r"<.*?>", "", c).split()) for c in cells]

    # filed, answered, median, p90, within target
    assert row("Urgent") == ["5", "4", "15 min", "40 min", "40% (2 of 5)"]
    assert row("High") == ["1", "1", "30 min", "30 min", "100% (1 of 1)"]
    assert row("Routine") == ["1", "0", "—", "—", "—"]
    assert row("All urgencies")[:2] == ["7", "5"]
    # Now: the unanswered urgent and routine requests, and the old routine one, are open;
    # the urgent one and the old one are past their targets.
    assert "<dt>Open</dt><dd>3</dd>" in html
    assert "<dt>Unclaimed</dt><dd>3</dd>" in html
    assert "<dt>Overdue (no response past the target)</dt><dd>2</dd>" in html
    assert html.count('role="img"') == 3 and html.count("<title id=") == 3
    assert 'class="chart-urgent"' in html and "<rect" in html
    assert "Medication question" in html
    # Category over time: the medication question falls in this week's row.
    assert html.count('<td data-label="Medication question">1</td>') == 1
    assert html.count('<td data-label="Patient eligibility">1</td>') == 1
    # The date range moves the window: the old request is counted only when included.
    start = (now - timedelta(days=210)).date().isoformat()
    end = (now - timedelta(days=190)).date().isoformat()
    old_range = client.get(f"/clinical/support/metrics?start={start}&end={end}")
    assert old_range.status_code == 200
    assert "<dt>Filed in the range</dt><dd>1</dd>" in old_range.get_data(as_text=True)
    assert old.id
    bad = client.get(f"/clinical/support/metrics?start={end}&end={start}")
    assert bad.status_code == 422
    assert "The end date is before the start date." in bad.get_data(as_text=True)
