import VMInit

VMInitMain.run(arguments: CommandLine.arguments)
