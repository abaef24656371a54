from pyvirt.vmm.main import main

raise SystemExit(main())
