"""Client inventories: fetch from NetBox, cache, filter, and export for Ansible."""
