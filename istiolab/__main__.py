import sys

from istiolab.cli import main

sys.exit(main())
