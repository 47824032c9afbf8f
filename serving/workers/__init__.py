"""Background analysis inside the service: camera stream workers and the video job runner."""
