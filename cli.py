"""`python cli.py ...` runs the same commands as the `qms` console script."""
from qms.commands import cli

if __name__ == "__main__":
    cli()
