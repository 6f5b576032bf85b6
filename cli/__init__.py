"""The application shell: the `intake` command, its subcommands, logging, and running the worker and web
app."""
