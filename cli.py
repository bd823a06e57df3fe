"""Run the dynsys command line from a checkout: ``python cli.py --help``."""

from dynsys.cli import main

if __name__ == "__main__":
    main(prog_name="dynsys")
