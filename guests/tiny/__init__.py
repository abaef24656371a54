"""The tiny x86 test guests; see README.md and build.py."""
