"""The resource library: documents and links for certified partners, defined in the repository."""
