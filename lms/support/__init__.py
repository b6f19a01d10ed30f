"""The 24/7 medical-support request queue."""
