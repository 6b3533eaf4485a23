"""Training: recordings in, a model for the board plus its model card out (gesture; keyword beside it)."""
