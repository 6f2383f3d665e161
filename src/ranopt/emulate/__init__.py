"""``ranopt emulate``: the twin run as a RAN behind O1, A1, PM files and VES (a shell)."""
