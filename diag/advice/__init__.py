"""POP3 or IMAP: a recommendation from the user's answers, with its reasons."""
