"""CDC to Hudi: the reconciliation job run after each HoodieStreamer step."""
