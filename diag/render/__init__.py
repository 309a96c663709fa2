"""Views over result objects: rich for people, JSON for scripts."""
