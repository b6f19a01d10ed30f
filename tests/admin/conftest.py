"""Admin fixtures: the certification fixtures (a certified therapist and ways to break it)."""

from tests.certification.conftest import (  # noqa: F401 - fixtures
    agreements_dir,
    make_certified,
    required_course,
)
from tests.training.conftest import (  # noqa: F401, E402 - fixtures
    courses_dir,
    mini_course,
    sync_courses,
)
