"""Adapters to outside systems; each implements a domain port."""
