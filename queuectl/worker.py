"""`python -m queuectl.worker`: the documented way to start one worker process by hand.

The worker itself lives in the execution room (`queuectl/execution/worker.py`); this name stays so
that scripts and service files written against earlier releases keep working.
"""

from .execution.worker import main

if __name__ == "__main__":
    main()
