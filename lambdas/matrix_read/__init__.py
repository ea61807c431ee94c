"""The wide-matrix read API's Lambda (``handler``) and the dataset registry protocol (``registry``)."""
