"""The command modules, each loaded only when one of its commands runs (see queuectl.cli)."""
