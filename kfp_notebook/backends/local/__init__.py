"""The embedded local backend: runs a compiled pipeline on this machine, in parallel, with live task states."""
