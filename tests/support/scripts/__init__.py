"""External scripts run as child processes; ``payloads`` is shared with the tests."""
