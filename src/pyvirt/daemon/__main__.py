from pyvirt.daemon.main import main

raise SystemExit(main())
