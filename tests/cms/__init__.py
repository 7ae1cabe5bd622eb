"""Tests of the cms layer."""
