"""Use cases of the pipeline, one module per area; `Services` bundles them for a composition root."""
