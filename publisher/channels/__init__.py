"""Publishing channels: one module per network behind `publisher.channels.base.Channel`."""
