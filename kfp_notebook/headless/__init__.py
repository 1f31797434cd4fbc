"""Notebooks without a person at the keyboard: the kfp-notebook command, its kernel side, headless execution."""
