"""`python -m lossdoctor`."""

from .cli import main

main()
