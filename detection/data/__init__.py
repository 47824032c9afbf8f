"""Dataset tooling: import labelled images from common formats, map classes to the taxonomy,
validate, deduplicate, split by near-duplicate groups and write YOLO datasets atomically."""
