"""TFX's standard Pusher, recording each validation in the study record."""
