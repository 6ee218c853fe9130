"""Social publisher: channels, composition, the outbox dispatcher and the scheduler."""
