"""The use cases the CLI, the web app and the queue consumer share."""
