from pyvirt.img.main import main

raise SystemExit(main())
