"""``python -m dynsys``: the command line, as the ``dynsys`` script runs it."""

from .cli import main

if __name__ == "__main__":
    main(prog_name="dynsys")
