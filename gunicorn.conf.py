# Read by gunicorn from the working directory (the image's /app).
# Keep invitation and password-reset keys out of the access log.
logger_class = "incidentio.config.log_redaction.GunicornLogger"
