"""Alerts of the orchestrator: tell people about run events through the channels a pipeline's
``monitoring.alerts`` names (Slack, e-mail, webhooks).

The server builds an ``AlertMessage`` for a run event and calls
``AlertDispatcher.deliver(spec.body.monitoring.alerts, message, now)``; the dispatcher picks
the alerts sent on that event, throttles repeats, sends, records each ``Delivery`` in an
``AlertHistory`` and never raises.
"""

from dteg.orchestrator.alerts.channels import CHANNELS, Channel
from dteg.orchestrator.alerts.dispatcher import AlertDispatcher, alert_key
from dteg.orchestrator.alerts.errors import AlertDeliveryError
from dteg.orchestrator.alerts.history import (
    AlertHistory,
    Delivery,
    DeliveryStatus,
    MemoryAlertHistory,
)
from dteg.orchestrator.alerts.message import AlertMessage
from dteg.orchestrator.alerts.settings import AlertSettings

__all__ = [
    "CHANNELS",
    "AlertDeliveryError",
    "AlertDispatcher",
    "AlertHistory",
    "AlertMessage",
    "AlertSettings",
    "Channel",
    "Delivery",
    "DeliveryStatus",
    "MemoryAlertHistory",
    "alert_key",
]
