print("fc-supervisor")
