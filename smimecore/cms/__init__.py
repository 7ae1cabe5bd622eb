"""CMS (RFC 5652) structures, built and parsed with asn1crypto.

This is the expert layer: bytes in, bytes out.  It never imports the
``email`` package, the keyring or the trust layer.
"""
