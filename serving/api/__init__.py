"""HTTP routes; each module holds one area's thin handlers."""
