"""Payments: paid enrolment through Stripe, signed webhooks, refunds, comped enrolments."""
