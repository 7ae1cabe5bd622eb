"""Tests of the pki layer."""
