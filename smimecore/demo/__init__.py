"""A throwaway PKI and the ``smimecore demo`` walk-through."""
