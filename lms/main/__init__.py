"""The front door: landing page, dashboard, health check."""
