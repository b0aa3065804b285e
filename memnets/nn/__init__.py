"""Modules that own parameters and call :mod:`memnets.functional`."""
