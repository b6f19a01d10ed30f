"""Course and quiz analytics for admins, and regrading a corrected question."""
