"""Report adapters: collections reports as tables, CSV, Excel and JSON."""
