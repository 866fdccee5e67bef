"""Helpers every layer may use: checks of typed-in values, atomic files, the machine, lazy re-exports."""
