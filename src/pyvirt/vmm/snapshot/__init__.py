"""VM snapshots: the file format, and migration to and from files and commands."""
