"""The leaves: typed configs, atomic writes, fault drills, optional numba, ratings.

Imports nothing from the package except `config` writing its YAML through `atomic`.
"""
