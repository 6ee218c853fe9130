"""Chat handlers, one module per flow."""
