"""Reports over the tracker: SLA figures, their rendering (JSON, CSV, HTML) and the item export."""
