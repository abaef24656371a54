import sys

from pyvirt.virsh.main import main

sys.exit(main())
