"""collect room."""
