"""Notification channels: one module per kind of receiver, all rendering a Notification."""
