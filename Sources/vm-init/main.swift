import LinuxSystem
import VMInit

VMInitMain.run(arguments: SystemControl.processArguments)
