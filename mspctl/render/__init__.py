"""Rendering intended configuration from Jinja2 templates and NetBox data."""
