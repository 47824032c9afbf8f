"""Analysis outside the API process: the camera supervisor and job dispatcher (threads in the
service) and what they start (worker processes or Ray actors and tasks). Above ``services``:
``services.analysis`` runs the pipeline, ``services.jobs`` one job; services never import
workers."""
