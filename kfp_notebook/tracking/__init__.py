"""A run once started: its handle and states, its results, its records in listings, its artifact files."""
