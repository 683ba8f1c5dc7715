"""Pure domain: Decimal money, balances, allocation, Pagos 2.0 amounts, aging, forecasts.

Nothing here imports a framework, a database driver, lxml or satcfdi; a test walks
the imports of this package and fails on a forbidden one.
"""
