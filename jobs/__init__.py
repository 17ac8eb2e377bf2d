"""Background jobs: the handlers per kind, the shared executor, the in-process runner and the arq worker."""
