"""Modal screens: confirm, job detail, new job, priority, help, command log."""
