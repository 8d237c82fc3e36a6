"""The kopf operator: thin event handlers feeding a work queue of reconcilers (one module per kind)."""
