"""CMS (RFC 5652) structures: read with :class:`smimecore.pki.der.Cursor`, one reader per
structure; built by hand and with asn1crypto.

This is the expert layer: bytes in, bytes out.  It never imports the
``email`` package, the keyring or the trust layer.
"""
