"""The top: the iteration loop over a run folder, a run's status, and the command line.
"""
