"""Device models: plain Python objects, independent of the accelerator."""
