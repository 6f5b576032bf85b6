"""The tracker database: typed models, engine and sessions, migrations, shared queries."""
