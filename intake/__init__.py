"""The intake worker: IMAP sync, parsing, screening, threading, and the pipeline that stores a batch."""
