"""Where model versions live: a local directory or an S3-compatible object store, plus each worker's local
cache of versions fetched from an object store. Django-free; `classifiers.registry` is the door to it."""
