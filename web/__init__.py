"""The web app: console pages, JSON API, the stack callback and the template."""
