"""python -m hbbatch"""

from hbbatch.cli import main

if __name__ == "__main__":
    main()
