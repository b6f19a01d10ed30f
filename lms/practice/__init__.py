"""Practice profiles of certified partners, the public patient intake, and matching."""
