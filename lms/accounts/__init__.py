"""Accounts: registration, e-mail verification, log-in, passwords, profile, invitations."""
