"""The words that patients and partners share: conditions, approaches, languages, age bands.

Stored as short codes (profiles and self-referrals keep lists of codes as JSON); the labels
are what people read. A code that is no longer listed is shown as it is, never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable

CONDITIONS: dict[str, str] = {
    "generalized_anxiety": "Generalized anxiety",
    "social_anxiety": "Social anxiety",
    "panic": "Panic",
    "depression": "Depression",
    "ptsd": "PTSD",
    "ocd": "OCD",
    "other": "Other",
}

APPROACHES: dict[str, str] = {
    "ifs": "Internal Family Systems (IFS)",
    "somatic": "Somatic therapy",
    "act": "Acceptance and commitment therapy (ACT)",
    "emdr": "EMDR",
    "cbt": "Cognitive behavioral therapy (CBT)",
    "mindfulness": "Mindfulness-based therapy",
    "psychodynamic": "Psychodynamic therapy",
    "integration": "Psychedelic integration",
}

LANGUAGES: dict[str, str] = {
    "en": "English",
    "es": "Spanish",
    "zh": "Chinese",
    "vi": "Vietnamese",
    "tl": "Tagalog",
    "ko": "Korean",
    "ar": "Arabic",
    "fr": "French",
    "ru": "Russian",
    "pt": "Portuguese",
    "de": "German",
    "hi": "Hindi",
    "ase": "American Sign Language",
}


def label(vocabulary: dict[str, str], code: str | None) -> str:
    """The label of ``code``, or the code itself if it is no longer in the list."""
    if not code:
        return ""
    return vocabulary.get(code, code)


def labels(vocabulary: dict[str, str], codes: Iterable[str] | None) -> list[str]:
    """Labels of ``codes`` in the vocabulary's order (unknown codes last, as they are)."""
    chosen = list(codes or [])
    known = [vocabulary[c] for c in vocabulary if c in chosen]
    return known + [c for c in chosen if c not in vocabulary]


def join_words(words: list[str], conjunction: str = "and") -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"`` (for the plain-words explanations)."""
    if not words:
        return ""
    if len(words) == 1:
        return words[0]
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"
