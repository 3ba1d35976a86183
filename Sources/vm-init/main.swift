print("vm-init")
