"""Admin fixtures: the certification fixtures (a certified therapist and ways to break it)."""

from tests.certification.conftest import (  # noqa: F401 - fixtures
    agreements_dir,
    make_certified,
    required_course,
)
