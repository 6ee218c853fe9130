"""Telegram adapter: handlers, rendering, and the Bot API emulator."""
