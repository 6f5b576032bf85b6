"""The intake worker: IMAP sync, parsing, screening, threading, and the app shell (config, CLI)."""
