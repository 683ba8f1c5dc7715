"""Adaptadores de los servicios del SAT y de Banxico."""
