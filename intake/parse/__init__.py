"""Reads raw message bytes into an Email: MIME parsing with its repairs, charsets, addresses, text and
attachments.

`reader` is the entry point (mail-parser, then the standard library, then headers alone); the other modules
each repair one thing real mail gets wrong: broken header blocks (`head_repair`), runaway MIME nesting
(`nesting`), missing or wrong charsets (`charsets`, `plausibility`, `encoded_words`), odd address headers
(`addresses`), attachment names (`attachments`), and HTML bodies (`text`).
"""
from intake.identity import synthetic_message_id
from intake.parse.reader import ParseError, attachment_data, message_ids, normalize_message_id, parse_email

__all__ = ["ParseError", "attachment_data", "message_ids", "normalize_message_id", "parse_email",
           "synthetic_message_id"]
