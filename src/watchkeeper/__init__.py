"""watchkeeper: production monitoring and alerting for Python web applications."""
