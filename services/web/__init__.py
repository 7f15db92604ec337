"""The web app under /app (docs/web.md): pages over the API's reads, and the plots they draw."""
