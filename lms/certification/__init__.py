"""Certification: who may use the partner tools, decided in one place, and the partner agreement."""
