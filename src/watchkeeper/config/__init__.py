"""config room."""
