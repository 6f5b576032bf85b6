"""The PM review web app: the item queue, item pages, category corrections and a JSON API."""
