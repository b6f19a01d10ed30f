"""Outcome tracking: GAD-7 and PHQ-9 measurements for each referred patient."""
