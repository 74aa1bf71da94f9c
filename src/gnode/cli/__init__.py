"""The ``gnode`` command line (typer): commands parse, call the library, and print."""
