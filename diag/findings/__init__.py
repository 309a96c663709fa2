"""Findings: the catalogue of stable codes, and the analysis that produces them."""
