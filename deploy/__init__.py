"""Local mail servers (Dovecot IMAP, SMTP sink) for the demo and integration tests."""
