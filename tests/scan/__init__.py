"""Tests of the scan layer."""
