"""Device models, accelerator-agnostic plain Python objects."""
