"""Use cases the web pages and the JSON API call (one per view).

They take a SQLAlchemy session or engine, return plain dataclasses (templates never
touch the ORM, so no query can hide in a template) and know nothing of Flask.
They live here until the lead moves them under ``cfdi_cobranza.services``.
"""
