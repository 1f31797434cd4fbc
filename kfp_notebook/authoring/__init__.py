"""Cell text → component / pipeline: parsing, carried code, packages, task defaults, volumes, v1 compatibility."""
