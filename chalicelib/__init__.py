"""The WhatsApp Evolution service: everything behind ``app.py``'s routes."""

__version__ = "1.0.0"
