"""Camera stream workers: background threads above ``services`` (``services.analysis`` runs the
pipeline, ``services.jobs`` the video job runner); services never import workers."""
