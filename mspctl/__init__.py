"""mspctl: infrastructure as code for managed service providers, driven from NetBox."""

__version__ = "0.1.0"
