"""What each CLI command does, as plain functions that take values and return an ExitCode."""
