"""Build-time generation of the documentation's reference pages (mkdocs.yml's hooks)."""
