"""Activities: all I/O, one class per external system, built in worker.py with its clients."""
