"""Patient referrals: certified therapists refer patients; clinicians work the pipeline."""
