"""Tests of the algorithms layer."""
