"""Email: customer contacts, the outbox (queued with the event that causes it), delivery over
SMTP with retries and a log, editable Spanish templates, and the customer's signed link.

- ``contacts``: who at the customer receives what (``pagos``, ``cobranza``, ``ambos``), opt-out.
- ``config``: the SMTP server (environment or Configuración, password sealed) and company options.
- ``outbox``: ``queue`` and the events that use it (a REP stamped, ``rep send``, statements,
  letters, the REP deadline alert), templates, the delivery log.
- ``delivery``: ``deliver_message`` / ``deliver_due`` (claim, send, record; see its docstring for
  the at-most-once / at-least-once choice).
- ``links``: the customer's read-only page, signed, expiring, revocable.
- ``reminders``: the payment reminder N days before a due date.
"""

from cfdi_cobranza.services.mail.delivery import Delivery, Mailer, deliver_due, deliver_message
from cfdi_cobranza.services.mail.outbox import (
    PendingRepLine,
    queue_deadline_alert,
    queue_stamped_reps,
)

__all__ = ["Delivery", "Mailer", "PendingRepLine", "deliver_due", "deliver_message", "queue_deadline_alert",
           "queue_stamped_reps"]
