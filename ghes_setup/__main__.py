"""`python -m ghes_setup`: the same entry point as the `ghes-setup` console script."""

from ghes_setup.cli.main import main

if __name__ == "__main__":
    main()
