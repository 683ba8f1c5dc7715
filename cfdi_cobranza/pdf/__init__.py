"""Printed documents: the REP's printed representation, collection letters, statements.

Everything here is an adapter: it reads stamped XML or domain records and writes PDF
(fpdf2, core fonts, no images) or self-contained HTML. Nothing here decides amounts.
"""
