"""Licensure: therapists' licenses, malpractice insurance and attestation; admin verification."""
