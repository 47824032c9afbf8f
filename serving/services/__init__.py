"""Business logic; routes stay thin and call these functions."""
