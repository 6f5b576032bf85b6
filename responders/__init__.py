"""Acknowledgments: templates, outgoing messages with correct headers, and the SMTP sender that drains the
outbox."""
