"""The loop's last leg on the host: drift against the training reference, retraining with re-validation, reports."""
