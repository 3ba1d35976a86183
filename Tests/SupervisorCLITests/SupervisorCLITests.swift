// Placeholder so the target exists; replaced by the module's real files.
