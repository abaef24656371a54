"""The x86 PC board: firmware tables (ACPI, MP table) and related layout."""
