"""Third-party vectors read in place from ../shared/vectors."""
