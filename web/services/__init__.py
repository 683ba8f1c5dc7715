"""What the web pages read from a request: form and query-string parsing, and view models.

Queries and business rules live in ``cfdi_cobranza.services``, which the CLI and the
JSON API call too; nothing here knows of Flask.
"""
