"""mail-parser's reading of a message without its second decoding of every body and attachment.

The reader takes from mail-parser the message's date and the defects it finds (in address, date and Received
fields, in MIME headers, and the email package's own per part); it decodes bodies and attachments itself.
mail-parser's full pass decodes them all again and builds a JSON-ready copy of the message: a fifth of reading
a backlog went there. This pass keeps mail-parser's own analysis of the header fields and parts and leaves out
the decoding; a test compares both readings over the whole mail corpus.
"""
from __future__ import annotations

import mailparser
from mailparser.utils import decode_header_part, mime_header_view


class MailParserView(mailparser.MailParser):
    """MailParser(message) whose parse() reads only the date and the defects (see the module's docstring)."""

    def parse(self) -> MailParserView:
        try:
            self._reset()  # the header fields: addresses, dates, Received, each with its defects
            if self.message is None:
                return self
            for part in self.message.walk():
                self._append_defects(part, part.get_content_type())
                view, view_defects = mime_header_view(part)
                decode_header_part(view.get_filename(), defects=view_defects)
                if view_defects:
                    self._has_defects = True
                    self._defects_categories.add("MimeHeaderDefect")
        except AttributeError:  # a mail-parser without these helpers: its full pass
            super().parse()
        return self
