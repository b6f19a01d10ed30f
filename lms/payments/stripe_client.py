"""The one place that talks to Stripe: a client built per call from the app's settings.

No module-level ``stripe.api_key``: two apps in one process (tests) can point at
different servers, and nothing is configured at import time.
"""

from __future__ import annotations

from typing import Any

import stripe
from flask import current_app

# Stripe errors the views turn into messages; re-exported so callers need not import stripe.
StripeError = stripe.StripeError
CardError = stripe.CardError
SignatureVerificationError = stripe.SignatureVerificationError


def enabled() -> bool:
    return bool(current_app.config.get("STRIPE_SECRET_KEY"))


def client() -> stripe.StripeClient:
    cfg = current_app.config
    if not cfg.get("STRIPE_SECRET_KEY"):
        raise RuntimeError("payments are not configured (STRIPE_SECRET_KEY is not set)")
    return stripe.StripeClient(
        cfg["STRIPE_SECRET_KEY"],
        base_addresses={"api": cfg["STRIPE_API_BASE"].rstrip("/")},
        max_network_retries=2,
    )


def create_customer(email: str, name: str, user_id: int, key: str) -> Any:
    return client().v1.customers.create(
        params={"email": email, "name": name, "metadata": {"user_id": str(user_id)}},
        options={"idempotency_key": key},
    )


def create_payment_intent(
    amount_cents: int, currency: str, customer: str, metadata: dict[str, str], key: str
) -> Any:
    return client().v1.payment_intents.create(
        params={
            "amount": amount_cents,
            "currency": currency,
            "customer": customer,
            "metadata": metadata,
            "payment_method_types": ["card"],
        },
        options={"idempotency_key": key},
    )


def retrieve_payment_intent(intent_id: str) -> Any:
    return client().v1.payment_intents.retrieve(intent_id)


def cancel_payment_intent(intent_id: str) -> Any:
    return client().v1.payment_intents.cancel(intent_id)


def card_from_token(token_id: str) -> str:
    """The card behind a Stripe.js token (``stripe.createToken(cardElement)``)."""
    token = client().v1.tokens.retrieve(token_id)
    return str(token.card.id)


def confirm_with_card(intent_id: str, card_id: str) -> Any:
    """Attach the card to the PaymentIntent and confirm it (server-side confirmation)."""
    stripe_client = client()
    stripe_client.v1.payment_intents.update(intent_id, params={"payment_method": card_id})
    return stripe_client.v1.payment_intents.confirm(intent_id)


def refund(intent_id: str, key: str, metadata: dict[str, str]) -> Any:
    return client().v1.refunds.create(
        params={"payment_intent": intent_id, "metadata": metadata},
        options={"idempotency_key": key},
    )


def construct_event(payload: bytes, signature: str) -> Any:
    """Verify ``Stripe-Signature`` on the raw body and parse the event (raises on failure)."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET") or ""
    if not secret:
        raise SignatureVerificationError("no webhook secret configured", signature)
    return stripe.Webhook.construct_event(payload, signature, secret)
