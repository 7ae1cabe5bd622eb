"""Tests of the mime layer."""
