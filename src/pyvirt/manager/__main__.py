from pyvirt.manager.main import main

main()
