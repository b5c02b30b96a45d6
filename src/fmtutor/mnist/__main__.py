"""``python -m fmtutor.mnist ...``: see ``fmtutor.mnist.cli``."""

from .cli import main

if __name__ == "__main__":
    main()
