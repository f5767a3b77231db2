"""The Lambda handlers of the SAM application (one module per workflow)."""
