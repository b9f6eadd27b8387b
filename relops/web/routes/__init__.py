"""The dashboard's routes, one router per kind: ``public`` (the health check and the static files),
``auth`` (signing in and out), ``pages`` (HTML pages and their forms), ``api`` (the JSON API)."""
