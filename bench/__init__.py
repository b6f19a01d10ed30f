"""The benchmark (docs/PERFORMANCE.md)."""
