import SupervisorCLI

SupervisorCLI.runMain()
