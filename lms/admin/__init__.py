"""Admin console: users and roles, staff invitations, audit log, development mail."""
