"""Shared code of the tests, imported as `helpers.<module>`; no test lives here."""
