"""What touches the operating system and the interpreter: private files, file descriptors,
following a file (the tailer and its inotify wake-ups), pooled reader threads and the collector's
threshold while messages stream in."""
