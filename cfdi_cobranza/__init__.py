"""cfdi-cobranza: cuentas por cobrar sobre CFDI 4.0 y el Complemento de Pagos 2.0."""

__version__ = "0.1.0"
