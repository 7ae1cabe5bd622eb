"""Tests of the keyring layer."""
