"""Expression data sets: readers of the real layouts and the synthetic sets, clip datasets.

Imports torch through :mod:`.dataset` and :mod:`.transforms`; the readers themselves do not.
"""
