"""The Textual dashboard (installed as queuectl.tui); imported only by the TUI commands."""
