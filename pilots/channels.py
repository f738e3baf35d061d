"""Moved to ``pilots.services.reminders.channels`` (the reminders' service side is one package); this
name stays importable for code written before."""

from pilots.services.reminders.channels import *  # noqa: F401,F403
from pilots.services.reminders.channels import CHANNELS, Channel, DeliveryError, Digest, DigestRow  # noqa: F401
