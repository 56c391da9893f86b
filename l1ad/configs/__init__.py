"""l1ad stage."""
