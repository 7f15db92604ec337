"""The web app's pages, one module per section; each reads what the matching API route reads."""
