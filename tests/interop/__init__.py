"""Interoperability with the openssl binary, both ways."""
