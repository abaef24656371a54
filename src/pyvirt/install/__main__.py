import sys

from pyvirt.install.main import main

sys.exit(main())
