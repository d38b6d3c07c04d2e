"""Adapters at the edges. Each hides one library; the rest of mspctl never imports them."""
