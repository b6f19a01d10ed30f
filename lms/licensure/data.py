"""Reference lists: license types with their NUCC taxonomy codes, and US jurisdictions."""

from __future__ import annotations

import enum


class LicenseType(enum.StrEnum):
    """License types; ``taxonomy`` is the NUCC Health Care Provider Taxonomy code."""

    LMFT = "lmft"
    LCSW = "lcsw"
    LPC = "lpc"
    LMHC = "lmhc"
    PSYCHOLOGIST = "psychologist"
    CLINICAL_PSYCHOLOGIST = "clinical_psychologist"
    PMHNP = "pmhnp"
    PSYCHIATRIST = "psychiatrist"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _TYPES[self][0]

    @property
    def taxonomy(self) -> str | None:
        return _TYPES[self][1]

    @property
    def short(self) -> str:
        return _TYPES[self][2]


_TYPES: dict[str, tuple[str, str | None, str]] = {
    "lmft": ("Licensed Marriage and Family Therapist (LMFT)", "106H00000X", "LMFT"),
    "lcsw": ("Licensed Clinical Social Worker (LCSW)", "1041C0700X", "LCSW"),
    "lpc": ("Licensed Professional Counselor (LPC/LPCC)", "101YP2500X", "LPC/LPCC"),
    "lmhc": ("Licensed Mental Health Counselor (LMHC)", "101YM0800X", "LMHC"),
    "psychologist": ("Psychologist", "103T00000X", "Psychologist"),
    "clinical_psychologist": ("Clinical Psychologist", "103TC0700X", "Clinical psychologist"),
    "pmhnp": (
        "Psychiatric/Mental Health Nurse Practitioner",
        "363LP0808X",
        "Psychiatric NP",
    ),
    "psychiatrist": ("Psychiatrist (Psychiatry & Neurology)", "2084P0800X", "Psychiatrist"),
    "other": ("Other", None, "Other"),
}


def license_type_pairs() -> list[tuple[str, str]]:
    return [(t.value, f"{t.label} · {t.taxonomy}" if t.taxonomy else t.label) for t in LicenseType]


# The 50 states, the District of Columbia and the inhabited territories.
JURISDICTIONS: dict[str, str] = {
    "AL": "Alabama",
    "AK": "Alaska",
    "AZ": "Arizona",
    "AR": "Arkansas",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "DE": "Delaware",
    "DC": "District of Columbia",
    "FL": "Florida",
    "GA": "Georgia",
    "HI": "Hawaii",
    "ID": "Idaho",
    "IL": "Illinois",
    "IN": "Indiana",
    "IA": "Iowa",
    "KS": "Kansas",
    "KY": "Kentucky",
    "LA": "Louisiana",
    "ME": "Maine",
    "MD": "Maryland",
    "MA": "Massachusetts",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MS": "Mississippi",
    "MO": "Missouri",
    "MT": "Montana",
    "NE": "Nebraska",
    "NV": "Nevada",
    "NH": "New Hampshire",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NY": "New York",
    "NC": "North Carolina",
    "ND": "North Dakota",
    "OH": "Ohio",
    "OK": "Oklahoma",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "RI": "Rhode Island",
    "SC": "South Carolina",
    "SD": "South Dakota",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "VT": "Vermont",
    "VA": "Virginia",
    "WA": "Washington",
    "WV": "West Virginia",
    "WI": "Wisconsin",
    "WY": "Wyoming",
    "AS": "American Samoa",
    "GU": "Guam",
    "MP": "Northern Mariana Islands",
    "PR": "Puerto Rico",
    "VI": "U.S. Virgin Islands",
}


def state_name(code: str) -> str:
    return JURISDICTIONS.get(code, code)


def state_pairs() -> list[tuple[str, str]]:
    return sorted(JURISDICTIONS.items(), key=lambda item: item[1])
