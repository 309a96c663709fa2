"""The helpdesk check: discovery, verification against the real servers, verdict."""
