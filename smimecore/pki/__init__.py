"""Certificates and PEM files: the lowest layer, shared by every other one."""
